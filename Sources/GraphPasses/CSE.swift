import GraphIR

/// `cse`: merges nodes that compute the same thing (same op, operands, attributes and type). Inputs and parameters
/// are never merged (they are distinct by name). Random ops are pure functions of seed and salt, so equal ones
/// are equal. The first node keeps its scope, location and notes.
public func eliminateCommonSubexpressions(_ g: Graph) -> Graph {
    struct Key: Hashable {
        var op: OpKind
        var operands: [Value]
        var attributes: Attributes
        var type: TensorType
    }
    let rw = GraphRewriter(g)
    var seen: [Key: Value] = [:]
    for (i, n) in g.nodes.enumerated() {
        let node = rw.remapped(n)
        guard n.op != .input && n.op != .parameter else {
            rw.map[i] = rw.append(node)
            continue
        }
        let key = Key(op: node.op, operands: node.operands, attributes: node.attributes, type: node.type)
        if let existing = seen[key] {
            rw.map[i] = existing
        } else {
            let v = rw.append(node)
            seen[key] = v
            rw.map[i] = v
        }
    }
    return rw.finish()
}
