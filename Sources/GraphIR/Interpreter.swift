/// The reference interpreter: runs every node with its op's reference semantics (plain loops over `Double`,
/// rounded to `Float` after each op for `f32` values). Slow and obviously correct; every optimized path is
/// checked against it.
public struct Interpreter {
    public init() {}

    /// Evaluates the graph. `inputs` are keyed by input name, `parameters` by parameter name.
    /// Returns every named output and every update (keyed `update:<name>`).
    public func run(_ g: Graph, inputs: [String: Tensor], parameters: [String: Tensor]) throws -> [String: Tensor] {
        let values = try evaluateAll(g, inputs: inputs, parameters: parameters)
        var out: [String: Tensor] = [:]
        for o in g.outputs { out[o.name] = values[o.value.id] }
        for u in g.updates { out["update:" + u.parameter] = values[u.value.id] }
        return out
    }

    /// Evaluates and returns the value of every node (nil for nodes nothing needs).
    public func evaluateAll(_ g: Graph, inputs: [String: Tensor], parameters: [String: Tensor]) throws -> [Tensor?] {
        var live = [Bool](repeating: false, count: g.nodes.count)
        for v in g.outputs.map(\.value) + g.updates.map(\.value) { live[v.id] = true }
        for i in stride(from: g.nodes.count - 1, through: 0, by: -1) where live[i] {
            for o in g.nodes[i].operands { live[o.id] = true }
        }
        var values = [Tensor?](repeating: nil, count: g.nodes.count)
        for (i, n) in g.nodes.enumerated() where live[i] {
            let t: Tensor
            switch n.op {
            case .input:
                guard let x = inputs[n.name ?? ""] else { throw GraphError(.evaluate, "missing input '\(n.name ?? "")' (\(n.type))") }
                t = x
            case .parameter:
                guard let x = parameters[n.name ?? ""] else { throw GraphError(.evaluate, "missing parameter '\(n.name ?? "")' (\(n.type))") }
                t = x
            default:
                do {
                    t = try n.op.spec.evaluate(n.operands.map { values[$0.id]! }, n)
                } catch let e as GraphError {
                    throw GraphError(.evaluate, "\(n.location): \(n.op.mnemonic)\(n.scope.isEmpty ? "" : " in scope '\(n.scope)'"): \(e.message)")
                }
            }
            guard t.type == n.type else {
                throw GraphError(.evaluate, "\(n.op.mnemonic) '\(n.name ?? "%\(i)")': expected \(n.type), got \(t.type)")
            }
            values[i] = t
        }
        return values
    }
}
