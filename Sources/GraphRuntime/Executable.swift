import CBLAS
import GraphIR

/// Options of an executable.
public struct RuntimeOptions {
    /// Threads for OpenBLAS and for the tiled kernels (one setting for both; default: all cores).
    public var threads: Int
    /// Output names checked for NaN/Inf after each step; a step whose check fails throws and writes no update.
    public var checkFinite: [String]
    /// Lets kernels run in place on operands they read last.
    public var inPlace: Bool
    /// Seed for parameters that the store lacks (materialized from their initializers, as
    /// `Graph.initialParameters(seed:)` does).
    public var initSeed: Int
    /// Times every kernel (see `Executable.profile`); off by default: two clock reads per kernel.
    public var profile: Bool

    public init(threads: Int = RuntimeThreads.allCores, checkFinite: [String] = [], inPlace: Bool = true, initSeed: Int = 0,
                profile: Bool = false) {
        self.threads = threads
        self.checkFinite = checkFinite
        self.inPlace = inPlace
        self.initSeed = initSeed
        self.profile = profile
    }
}

/// A program with its memory: the arena, the constant pool and the parameter store. `run` executes one step:
/// binds the inputs, runs the kernels, checks the requested outputs, writes the updates into the parameters.
/// Nothing is allocated by the kernels during a step.
public final class Executable {
    public let program: Program
    public let parameters: ParameterStore
    public let options: RuntimeOptions
    let arena: RawBlock
    let constantPool: RawBlock
    let parameterSlots: [ParameterStore.Slot]
    let bufferAddress: [UnsafeMutableRawPointer]
    let io: [KernelIO]
    var generation = 0
    var timer: StepTimer?

    /// Lowers `graph` and binds it to `parameters`; parameters the store lacks are created from their
    /// initializers with `options.initSeed`.
    public convenience init(_ graph: Graph, parameters: ParameterStore = ParameterStore(), options: RuntimeOptions = RuntimeOptions()) throws {
        try self.init(program: Program.lower(graph, threads: options.threads, inPlace: options.inPlace), parameters: parameters, options: options)
    }

    public init(program: Program, parameters: ParameterStore, options: RuntimeOptions = RuntimeOptions()) throws {
        self.program = program
        self.parameters = parameters
        self.options = options
        for name in options.checkFinite where !program.outputs.contains(where: { $0.name == name }) {
            throw RuntimeError(.unknownName, "checkFinite names '\(name)', which is not an output (outputs: \(program.outputs.map(\.name).joined(separator: ", ")))")
        }
        var slots: [String: ParameterStore.Slot] = [:]
        for p in program.parameters {
            if parameters.slots[p.name] == nil {
                let t = Tensor(p.type.dtype, p.type.shape,
                               (p.initializer ?? .zeros).values(count: p.type.count, seed: options.initSeed, name: p.name))
                try parameters.set(p.name, t)
            }
            slots[p.name] = try parameters.slotFor(p.name, p.type)
        }
        parameterSlots = Array(slots.values)
        arena = RawBlock(byteCount: program.plan.arenaBytes)
        constantPool = RawBlock(byteCount: program.plan.constantBytes)
        var address: [UnsafeMutableRawPointer] = []
        for b in program.plan.buffers {
            switch b.region {
            case .arena: address.append(arena.pointer + b.offset)
            case .constant: address.append(constantPool.pointer + b.offset)
            case .parameter(let name): address.append(slots[name]!.block.pointer)
            }
        }
        bufferAddress = address
        timer = options.profile ? StepTimer(steps: program.steps.count) : nil
        for (b, t) in program.constants { write(t, to: address[b]) }
        let threads = program.threads
        io = program.steps.map { s in
            KernelIO(operands: s.operandBuffers.map { address[$0] }, output: address[s.outputBuffer],
                     scratch: s.scratchBuffer.map { address[$0] }, threads: threads)
        }
    }

    /// Runs one step. Inputs are keyed by input name and must match the graph's types exactly.
    /// The result reads the arena directly and is valid until the next `run`.
    @discardableResult
    public func run(_ inputs: [String: Tensor]) throws -> StepOutputs {
        for name in inputs.keys where !program.inputs.contains(where: { $0.name == name }) {
            throw RuntimeError(.unknownName, "unknown input '\(name)' (inputs: \(program.inputs.map(\.name).joined(separator: ", ")))")
        }
        for i in program.inputs {
            guard let t = inputs[i.name] else { throw RuntimeError(.badInput, "missing input '\(i.name)' (\(i.type))") }
            guard t.type == i.type else { throw RuntimeError(.badInput, "input '\(i.name)': expected \(i.type), got \(t.type)") }
        }
        for i in program.inputs { write(inputs[i.name]!, to: bufferAddress[program.valueBuffer[i.value]!]) }
        return try execute()
    }

    /// Runs one step with `f32` inputs given as flat arrays (the fast path: no conversion through `Double`).
    @discardableResult
    public func run(floats inputs: [String: [Float]], others: [String: Tensor] = [:]) throws -> StepOutputs {
        for name in inputs.keys where !program.inputs.contains(where: { $0.name == name }) {
            throw RuntimeError(.unknownName, "unknown input '\(name)' (inputs: \(program.inputs.map(\.name).joined(separator: ", ")))")
        }
        for i in program.inputs where inputs[i.name] == nil && others[i.name] == nil {
            throw RuntimeError(.badInput, "missing input '\(i.name)' (\(i.type))")
        }
        for i in program.inputs {
            let dst = bufferAddress[program.valueBuffer[i.value]!]
            if let xs = inputs[i.name] {
                guard i.type.dtype == .f32, xs.count == i.type.count else {
                    throw RuntimeError(.badInput, "input '\(i.name)': expected \(i.type), got \(xs.count) f32 values")
                }
                xs.withUnsafeBufferPointer { dst.copyMemory(from: $0.baseAddress!, byteCount: xs.count * 4) }
            } else if let t = others[i.name] {
                guard t.type == i.type else { throw RuntimeError(.badInput, "input '\(i.name)': expected \(i.type), got \(t.type)") }
                write(t, to: dst)
            }
        }
        return try execute()
    }

    func execute() throws -> StepOutputs {
        generation += 1
        let threads = program.threads
        for (k, s) in program.steps.enumerated() {
            // One policy: BLAS kernels get the threads; tiled kernels run BLAS (if at all) single-threaded.
            RuntimeThreads.setBLASThreads(s.spec.usesBLAS ? threads : 1)
            do {
                if timer != nil {
                    let start = StepTimer.now()
                    try s.spec.run(io[k])
                    timer!.nanoseconds[k] &+= StepTimer.now() &- start
                } else {
                    try s.spec.run(io[k])
                }
            } catch let e as RuntimeError {
                let n = s.node.map { program.graph.nodes[$0] }
                throw RuntimeError(e.kind, n.map { "\(place(of: $0)) (%\(s.node!)): \(e.message)" } ?? e.message)
            }
        }
        timer?.runs += 1
        for name in options.checkFinite {
            let o = program.outputs.first { $0.name == name }!
            if let bad = firstNonFinite(bufferAddress[o.buffer], o.type) {
                throw RuntimeError(.nonFinite, "output '\(name)' holds \(bad) (step \(generation)); no update was written")
            }
        }
        for u in program.updates {
            guard let slot = parameters.slots[u.parameter] else { continue }
            let src = bufferAddress[u.buffer]
            if src != slot.block.pointer { slot.block.pointer.copyMemory(from: src, byteCount: u.type.byteCount) }
        }
        return StepOutputs(executable: self, generation: generation)
    }

    /// Kernel times accumulated since lowering (nil unless `options.profile`).
    public var profile: KernelProfile? { timer?.profile(program) }

    /// The address of an output's storage.
    func output(_ name: String) throws -> (UnsafeMutableRawPointer, TensorType) {
        guard let o = program.outputs.first(where: { $0.name == name }) else {
            throw RuntimeError(.unknownName, "unknown output '\(name)' (outputs: \(program.outputs.map(\.name).joined(separator: ", ")))")
        }
        return (bufferAddress[o.buffer], o.type)
    }
}

func firstNonFinite(_ p: UnsafeRawPointer, _ t: TensorType) -> String? {
    guard t.dtype.isFloat else { return nil }
    for i in 0..<t.count {
        let x = loadScalar(p, t.dtype, i)
        if !x.isFinite { return "\(x) at element \(i)" }
    }
    return nil
}

/// The outputs of one step, read from the executable's arena without copying. Reading after the next step
/// of the same executable throws.
public struct StepOutputs {
    let executable: Executable
    let generation: Int

    public var names: [String] { executable.program.outputs.map(\.name) }

    func checkFresh() throws {
        guard generation == executable.generation else {
            throw RuntimeError(.badInput, "outputs of step \(generation) were overwritten by step \(executable.generation)")
        }
    }

    /// An output as a host tensor (a copy).
    public func tensor(_ name: String) throws -> Tensor {
        try checkFresh()
        let (p, t) = try executable.output(name)
        return readTensor(p, t)
    }

    /// An `f32` output's values (a copy).
    public func floats(_ name: String) throws -> [Float] {
        try withFloats(name) { Array($0) }
    }

    /// Reads an `f32` output in place.
    public func withFloats<R>(_ name: String, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        try checkFresh()
        let (p, t) = try executable.output(name)
        guard t.dtype == .f32 else { throw RuntimeError(.badInput, "output '\(name)' is \(t), not f32") }
        return try body(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: t.count))
    }

    /// A scalar output's value.
    public func scalar(_ name: String) throws -> Double {
        try checkFresh()
        let (p, t) = try executable.output(name)
        guard t.count == 1 else { throw RuntimeError(.badInput, "output '\(name)' is \(t), not a scalar") }
        return loadScalar(p, t.dtype, 0)
    }

    /// Every output as host tensors.
    public func all() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for n in names { out[n] = try tensor(n) }
        return out
    }
}

/// Compiles each graph once and keeps its executable; all graphs share one parameter store.
public final class Session {
    public let parameters: ParameterStore
    public let options: RuntimeOptions
    var cache: [ObjectIdentifier: (nodes: Int, executable: Executable)] = [:]

    public init(parameters: ParameterStore = ParameterStore(), options: RuntimeOptions = RuntimeOptions()) {
        self.parameters = parameters
        self.options = options
    }

    /// The executable of `graph`, lowered on first use (and again if the graph grew since).
    public func executable(for graph: Graph) throws -> Executable {
        let key = ObjectIdentifier(graph)
        if let c = cache[key], c.nodes == graph.nodes.count { return c.executable }
        let e = try Executable(graph, parameters: parameters, options: options)
        cache[key] = (graph.nodes.count, e)
        return e
    }

    /// Runs one step of `graph` and returns every output as host tensors.
    public func run(_ graph: Graph, _ inputs: [String: Tensor]) throws -> [String: Tensor] {
        try executable(for: graph).run(inputs).all()
    }
}
