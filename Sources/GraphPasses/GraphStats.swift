import GraphIR

/// Size and cost of a graph, as `graphc dump --stats` reports them before and after each pass.
public struct GraphStats: Equatable, Sendable {
    /// All nodes, leaves included.
    public var nodes: Int
    /// Nodes that run as a kernel: every node that is not a leaf (after `fuse`, a fused op is one kernel).
    public var kernels: Int
    /// Sum of the ops' FLOP estimates (`OpSpec.flops`).
    public var flops: Int
    /// Bytes every kernel reads and writes: operand bytes plus result bytes (`TensorType.byteCount`), summed over
    /// kernels. Fusion lowers it by keeping intermediates out of memory.
    public var bytesMoved: Int

    public init(_ g: Graph) {
        nodes = g.nodes.count
        var kernels = 0, flops = 0, bytes = 0
        for n in g.nodes where !n.isLeaf {
            let operandTypes = n.operands.map { g.type(of: $0) }
            kernels += 1
            flops += n.op.spec.flops(operandTypes, n.type, n.attributes)
            bytes += operandTypes.map(\.byteCount).reduce(0, +) + n.type.byteCount
        }
        self.kernels = kernels
        self.flops = flops
        self.bytesMoved = bytes
    }
}

/// What one pass did: stats before and after, and how long it took.
public struct PassRecord: Sendable {
    public var pass: String
    public var before: GraphStats
    public var after: GraphStats
    public var seconds: Double

    /// One table row: `fuse  nodes 120 -> 80  kernels 90 -> 41  flops ... bytes ...  1.2 ms`.
    public var summary: String {
        func pair(_ a: Int, _ b: Int) -> String { a == b ? "\(a)" : "\(a) -> \(b)" }
        return "\(pass + String(repeating: " ", count: max(1, 14 - pass.count))) nodes \(pair(before.nodes, after.nodes))"
            + "  kernels \(pair(before.kernels, after.kernels))  flops \(pair(before.flops, after.flops))"
            + "  bytes \(pair(before.bytesMoved, after.bytesMoved))  \((seconds * 100_000).rounded() / 100) ms"
    }
}
