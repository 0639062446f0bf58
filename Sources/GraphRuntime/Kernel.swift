import GraphIR

/// The pointers one kernel reads and writes. They are fixed for the life of an executable (the arena, the
/// constants and the parameter buffers never move), so they are resolved once, before the first step.
struct KernelIO {
    var operands: [UnsafeMutableRawPointer]
    var output: UnsafeMutableRawPointer
    /// Kernel-private scratch from the arena (nil when the kernel asked for none).
    var scratch: UnsafeMutableRawPointer?
    var threads: Int

    @inline(__always) func f32(_ i: Int) -> UnsafeMutablePointer<Float> { operands[i].assumingMemoryBound(to: Float.self) }
    @inline(__always) var outF32: UnsafeMutablePointer<Float> { output.assumingMemoryBound(to: Float.self) }
}

/// What lowering makes of one node: the code, its scratch need and what the memory planner may do.
struct KernelSpec {
    /// A short name of the implementation, shown in the plan (e.g. `sgemm`, `simd16 exp`).
    var name: String
    var run: (KernelIO) throws -> Void
    /// Arena bytes the kernel needs for itself during its run.
    var scratchBytes: Int = 0
    /// Operands whose buffer the output may take over when this kernel is their last reader: the kernel
    /// reads element i of such an operand before it writes element i (or reads a whole row before writing it).
    var inPlaceOperands: [Int] = []
    /// True when the kernel calls BLAS with the executable's thread count (no tiles of its own).
    var usesBLAS: Bool = false

    init(_ name: String, scratchBytes: Int = 0, inPlace: [Int] = [], usesBLAS: Bool = false,
         _ run: @escaping (KernelIO) throws -> Void) {
        self.name = name
        self.run = run
        self.scratchBytes = scratchBytes
        self.inPlaceOperands = inPlace
        self.usesBLAS = usesBLAS
    }
}

/// A node as a factory sees it: the node, its operand types and the thread count it may plan for.
struct KernelContext {
    var node: Node
    var operandTypes: [TensorType]
    var threads: Int
    var type: TensorType { node.type }
    var attributes: Attributes { node.attributes }

    func unsupported(_ why: String) -> RuntimeError {
        RuntimeError(.lowering, "\(place(of: node)): \(why)")
    }
}
