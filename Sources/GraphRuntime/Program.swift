import GraphIR

/// One step of a program: the kernel of a node, or a copy that protects an output or update.
struct ProgramStep {
    /// The graph node, or nil for a synthetic copy.
    var node: Int?
    var time: Int
    var spec: KernelSpec
    var operandBuffers: [Int]
    var outputBuffer: Int
    var scratchBuffer: Int?
    /// True when the output took over an operand's buffer.
    var inPlace: Bool
}

/// A lowered graph: the kernel list over buffer slots and the static memory plan. Immutable; an
/// `Executable` gives it memory and runs it.
public struct Program {
    public let graph: Graph
    public let threads: Int
    let steps: [ProgramStep]
    public let plan: MemoryPlan
    /// The buffer of every value (nil for dead values).
    let valueBuffer: [Int?]
    let inputs: [(name: String, value: Int, type: TensorType)]
    /// Outputs and updates with the buffer they are read from at the end of a step.
    let outputs: [(name: String, buffer: Int, type: TensorType)]
    let updates: [(parameter: String, buffer: Int, type: TensorType)]
    let parameters: [(name: String, value: Int, type: TensorType, initializer: Initializer?)]
    let constants: [(buffer: Int, tensor: Tensor)]

    /// Number of kernels that run per step.
    public var kernelCount: Int { steps.count }

    /// Lowers a graph: checks every node's type against its op's rule, picks a kernel per live node, lets
    /// elementwise and row kernels run in place on operands they read last, lays out the arena and proves the
    /// layout sound.
    public static func lower(_ g: Graph, threads: Int = RuntimeThreads.allCores, inPlace: Bool = true) throws -> Program {
        var lowering = Lowering(g, threads: Swift.max(1, threads), inPlace: inPlace)
        return try lowering.run()
    }
}

private struct Lowering {
    let g: Graph
    let threads: Int
    let allowInPlace: Bool
    var buffers: [PlannedBuffer] = []
    var valueBuffer: [Int?]
    var lastUse: [Int]
    var steps: [ProgramStep] = []

    init(_ g: Graph, threads: Int, inPlace: Bool) {
        self.g = g
        self.threads = threads
        allowInPlace = inPlace
        valueBuffer = [Int?](repeating: nil, count: g.nodes.count)
        lastUse = [Int](repeating: -2, count: g.nodes.count)
    }

    mutating func newBuffer(_ region: BufferRegion, bytes: Int, first: Int, value: Int?, scratch: Bool = false) -> Int {
        buffers.append(PlannedBuffer(id: buffers.count, region: region, bytes: bytes, firstUse: first, lastUse: first,
                                     offset: 0, values: value.map { [$0] } ?? [], isScratch: scratch))
        return buffers.count - 1
    }

    mutating func attach(_ value: Int, to b: Int) {
        valueBuffer[value] = b
        buffers[b].values.append(value)
    }

    func bufferEnd(_ b: Int) -> Int { buffers[b].values.map { lastUse[$0] }.max() ?? buffers[b].firstUse }

    mutating func run() throws -> Program {
        let n = g.nodes.count
        try checkTypes()
        // Liveness as in the interpreter: only nodes that reach an output or update run.
        var live = [Bool](repeating: false, count: n)
        for v in g.outputs.map(\.value) + g.updates.map(\.value) { live[v.id] = true }
        for i in stride(from: n - 1, through: 0, by: -1) where live[i] {
            for o in g.nodes[i].operands { live[o.id] = true }
        }
        for i in 0..<n where live[i] { for o in g.nodes[i].operands { lastUse[o.id] = Swift.max(lastUse[o.id], i) } }
        // Outputs and updates are read at the end of the step; until that time is known, "never" keeps kernels
        // from running in place on them.
        for v in g.outputs.map(\.value.id) + g.updates.map(\.value.id) { lastUse[v] = Int.max }

        // Outputs or updates that sit in a parameter buffer are copied out first: updates are written back at
        // the end of the step, and must neither clobber a parameter another update reads nor change an output.
        let updated = Set(g.updates.map(\.parameter))
        var protectedValues: [Int] = []
        for (i, node) in g.nodes.enumerated() where live[i] {
            let operandTypes = node.operands.map { g.nodes[$0.id].type }
            switch node.op {
            case .input:
                _ = newBuffer(.arena, bytes: node.type.byteCount, first: -1, value: i)
                valueBuffer[i] = buffers.count - 1
            case .parameter:
                valueBuffer[i] = newBuffer(.parameter(node.name ?? ""), bytes: node.type.byteCount, first: -1, value: i)
            case .constant:
                valueBuffer[i] = newBuffer(.constant, bytes: node.type.byteCount, first: -1, value: i)
            case _ where isView(node.op):
                attach(i, to: valueBuffer[node.operands[0].id]!)
            default:
                guard let spec = try makeKernel(KernelContext(node: node, operandTypes: operandTypes, threads: threads)) else {
                    throw RuntimeError(.lowering, "\(place(of: node)): no kernel")
                }
                let operandBuffers = node.operands.map { valueBuffer[$0.id]! }
                var out: Int? = nil
                if allowInPlace {
                    for k in spec.inPlaceOperands {
                        let b = operandBuffers[k]
                        guard buffers[b].region == .arena, buffers[b].bytes == node.type.byteCount, bufferEnd(b) == i else { continue }
                        // Every read of that buffer by this node must be element-aligned with the output.
                        let aligned = node.operands.indices.allSatisfy { j in
                            operandBuffers[j] != b || (spec.inPlaceOperands.contains(j) && operandTypes[j].shape == node.type.shape)
                        }
                        if aligned { out = b; break }
                    }
                }
                let inPlace = out != nil
                if let b = out { attach(i, to: b) } else {
                    out = newBuffer(.arena, bytes: node.type.byteCount, first: i, value: i)
                    valueBuffer[i] = out
                }
                var scratch: Int? = nil
                if spec.scratchBytes > 0 { scratch = newBuffer(.arena, bytes: spec.scratchBytes, first: i, value: nil, scratch: true) }
                steps.append(ProgramStep(node: i, time: i, spec: spec, operandBuffers: operandBuffers, outputBuffer: out!,
                                         scratchBuffer: scratch, inPlace: inPlace))
            }
            if case .parameter(let p)? = valueBuffer[i].map({ buffers[$0].region }), updated.contains(p),
               g.outputs.contains(where: { $0.value.id == i }) || g.updates.contains(where: { $0.value.id == i }) {
                protectedValues.append(i)
            }
        }
        // Copies for protected values run after every node; their results replace the originals as outputs/updates.
        var replacement: [Int: Int] = [:]
        var time = n
        for v in protectedValues {
            let t = g.nodes[v].type
            let src = valueBuffer[v]!
            lastUse[v] = Swift.max(lastUse[v], time)
            let b = newBuffer(.arena, bytes: t.byteCount, first: time, value: nil, scratch: true)
            let bytes = t.byteCount
            steps.append(ProgramStep(node: nil, time: time, spec: KernelSpec("copy") { io in
                io.output.copyMemory(from: io.operands[0], byteCount: bytes)
            }, operandBuffers: [src], outputBuffer: b, scratchBuffer: nil, inPlace: false))
            replacement[v] = b
            time += 1
        }
        let endOfStep = time
        func resultBuffer(_ v: Int) -> Int { replacement[v] ?? valueBuffer[v]! }
        for v in g.outputs.map(\.value.id) + g.updates.map(\.value.id) { lastUse[v] = endOfStep }
        for i in buffers.indices where !buffers[i].isScratch {
            buffers[i].lastUse = Swift.max(buffers[i].firstUse, bufferEnd(i))
        }
        for (_, b) in replacement { buffers[b].lastUse = endOfStep }
        for i in buffers.indices where buffers[i].region != .arena { buffers[i].firstUse = -1; buffers[i].lastUse = endOfStep }

        // The unplanned baseline: every input, kernel result and scratch in its own allocation.
        var unplanned = 0
        for b in buffers where b.region == .arena {
            if b.isScratch { unplanned += alignUp(b.bytes) }
            for v in b.values where !isView(g.nodes[v].op) { unplanned += alignUp(g.nodes[v].type.byteCount) }
        }
        let (arena, constantBytes) = MemoryPlan.layout(&buffers)
        let plan = MemoryPlan(buffers: buffers, arenaBytes: arena, constantBytes: constantBytes,
                              unplannedBytes: unplanned, endOfStep: endOfStep)
        try plan.check()

        let inputs = g.nodes.indices.filter { g.nodes[$0].op == .input && live[$0] }.map { (g.nodes[$0].name ?? "", $0, g.nodes[$0].type) }
        let params = g.nodes.indices.filter { g.nodes[$0].op == .parameter && live[$0] }.map {
            (g.nodes[$0].name ?? "", $0, g.nodes[$0].type, g.nodes[$0].attributes.initializer("init"))
        }
        let constants = g.nodes.indices.filter { g.nodes[$0].op == .constant && live[$0] }.map { i -> (Int, Tensor) in
            let node = g.nodes[i]
            let v = node.attributes.floats("value") ?? [0]
            return (valueBuffer[i]!, Tensor(node.type.dtype, node.type.shape, v.count == 1 ? [Double](repeating: v[0], count: node.type.count) : v))
        }
        return Program(graph: g, threads: threads, steps: steps, plan: plan, valueBuffer: valueBuffer, inputs: inputs,
                       outputs: g.outputs.map { ($0.name, resultBuffer($0.value.id), g.nodes[$0.value.id].type) },
                       updates: g.updates.map { ($0.parameter, resultBuffer($0.value.id), g.nodes[$0.value.id].type) },
                       parameters: params, constants: constants)
    }

    /// Runs the IR verifier, so a hand-assembled or transformed graph that is ill-typed fails here with the
    /// node's place instead of inside a kernel.
    func checkTypes() throws {
        do { try Verifier.verify(g) } catch let e as GraphError { throw RuntimeError(.lowering, e.message) }
    }
}
