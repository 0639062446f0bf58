import GraphIR

/// Which values of a forward graph take part in differentiation.
///
/// A value is *varied* when it depends, through differentiable edges, on one of the parameters being
/// differentiated; it is *useful* when the loss depends on it through differentiable edges. Only *active* values
/// (varied and useful) get an adjoint, so a frozen subgraph upstream of every trainable parameter (not varied) and
/// branches the loss never reads (not useful) get no backward ops. An edge is differentiable when the op has a
/// VJP rule and both the operand and the result are floating point; `stop_gradient`, integer indices, comparisons
/// and sampling cut the graph.
public struct ActivityAnalysis {
    public let varied: [Bool]
    public let useful: [Bool]
    /// `varied && useful`, per node of the analysed graph.
    public let active: [Bool]
    /// Depends on a parameter but on no graph input: weights and what is computed from weights alone.
    public let weightLike: [Bool]

    /// Analyses `g` for the gradient of `loss` with respect to the parameter nodes in `wrt`.
    public init(_ g: Graph, loss: Value, wrt: Set<Value>) {
        let count = g.nodes.count
        var varied = [Bool](repeating: false, count: count)
        var fromParameter = [Bool](repeating: false, count: count)
        var fromInput = [Bool](repeating: false, count: count)
        for (i, n) in g.nodes.enumerated() {
            switch n.op {
            case .parameter:
                varied[i] = wrt.contains(Value(i)) && n.type.dtype.isFloat
                fromParameter[i] = true
            case .input:
                fromInput[i] = true
            default:
                fromParameter[i] = n.operands.contains { fromParameter[$0.id] }
                fromInput[i] = n.operands.contains { fromInput[$0.id] }
                varied[i] = ActivityAnalysis.differentiableOperands(g, n).contains { varied[n.operands[$0].id] }
            }
        }
        var useful = [Bool](repeating: false, count: count)
        if loss.id >= 0 && loss.id < count { useful[loss.id] = true }
        for i in stride(from: count - 1, through: 0, by: -1) where useful[i] {
            for k in ActivityAnalysis.differentiableOperands(g, g.nodes[i]) { useful[g.nodes[i].operands[k].id] = true }
        }
        self.varied = varied
        self.useful = useful
        self.active = zip(varied, useful).map { $0 && $1 }
        self.weightLike = zip(fromParameter, fromInput).map { $0 && !$1 }
    }

    /// Operand positions through which a cotangent can flow: the op has a rule, operand and result are floats.
    public static func differentiableOperands(_ g: Graph, _ n: Node) -> [Int] {
        guard case .rule = n.op.spec.vjp, n.type.dtype.isFloat else { return [] }
        return n.operands.indices.filter { g.type(of: n.operands[$0]).dtype.isFloat }
    }
}
