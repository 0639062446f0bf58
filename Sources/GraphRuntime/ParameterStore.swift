import GraphIR

/// Persistent storage for parameters of every role (trainable, frozen, optimizer state), by name.
/// Several executables may share one store, e.g. a training step and an evaluation graph of one model.
public final class ParameterStore {
    final class Slot {
        let type: TensorType
        let block: RawBlock
        init(_ type: TensorType) {
            self.type = type
            block = RawBlock(byteCount: type.byteCount)
        }
    }
    var slots: [String: Slot] = [:]

    public init() {}

    /// Names of the stored parameters, sorted.
    public var names: [String] { slots.keys.sorted() }

    /// The type of a stored parameter.
    public func type(of name: String) -> TensorType? { slots[name]?.type }

    /// Stores a value. A parameter that exists keeps its buffer (executables hold its address), so the new
    /// value must have the same type.
    public func set(_ name: String, _ t: Tensor) throws {
        let slot = try slotFor(name, t.type)
        write(t, to: slot.block.pointer)
    }

    /// Stores `f32` values of the given shape.
    public func set(_ name: String, floats: [Float], shape: [Int]) throws {
        guard floats.count == shape.reduce(1, *) else {
            throw RuntimeError(.badInput, "parameter '\(name)': \(floats.count) values for shape \(shape)")
        }
        let slot = try slotFor(name, TensorType(.f32, shape))
        floats.withUnsafeBufferPointer { slot.block.pointer.copyMemory(from: $0.baseAddress!, byteCount: floats.count * 4) }
    }

    /// Loads every tensor of a dictionary (e.g. a checkpoint or `Graph.initialParameters`).
    public func load(_ tensors: [String: Tensor]) throws {
        for (k, v) in tensors { try set(k, v) }
    }

    /// A copy of a parameter as a host tensor.
    public func tensor(_ name: String) -> Tensor? {
        guard let s = slots[name] else { return nil }
        return readTensor(s.block.pointer, s.type)
    }

    /// A copy of an `f32` parameter's values.
    public func floats(_ name: String) -> [Float]? {
        guard let s = slots[name], s.type.dtype == .f32 else { return nil }
        return Array(UnsafeBufferPointer(start: s.block.pointer.assumingMemoryBound(to: Float.self), count: s.type.count))
    }

    /// Every parameter as host tensors (for checkpoints).
    public func all() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, s) in slots { out[k] = readTensor(s.block.pointer, s.type) }
        return out
    }

    func slotFor(_ name: String, _ type: TensorType) throws -> Slot {
        if let s = slots[name] {
            guard s.type == type else {
                throw RuntimeError(.badInput, "parameter '\(name)' is \(s.type), got \(type)")
            }
            return s
        }
        let s = Slot(type)
        slots[name] = s
        return s
    }
}
