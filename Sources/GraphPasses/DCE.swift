import GraphIR

/// `dce`: removes nodes that no output or update reads. Inputs and parameters always stay, because they are the
/// graph's interface (a caller feeds every input and binds every parameter by name).
public func eliminateDeadCode(_ g: Graph) -> Graph {
    let live = liveNodes(g)
    let rw = GraphRewriter(g)
    for (i, n) in g.nodes.enumerated() where live[i] || n.op == .input || n.op == .parameter {
        rw.map[i] = rw.append(rw.remapped(n))
    }
    return rw.finish()
}

/// Which nodes an output or update depends on.
func liveNodes(_ g: Graph) -> [Bool] {
    var live = [Bool](repeating: false, count: g.nodes.count)
    for v in g.outputs.map(\.value) + g.updates.map(\.value) { live[v.id] = true }
    for i in stride(from: g.nodes.count - 1, through: 0, by: -1) where live[i] {
        for o in g.nodes[i].operands { live[o.id] = true }
    }
    return live
}
