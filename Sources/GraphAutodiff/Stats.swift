import GraphIR

/// What differentiation costs, for `graphc dump --train --stats`. FLOPs come from each op's `OpSpec.flops`.
public struct AutodiffStats: Sendable, Equatable {
    public var forwardFLOPs: Int
    /// Backward ops of the selective transform (optimizer ops excluded).
    public var backwardFLOPs: Int
    /// Backward FLOPs when every floating-point parameter, frozen ones included, is differentiated.
    public var backwardFLOPsDifferentiatingEverything: Int
    /// Forward values the backward reads (activations and inputs; parameters and constants excluded).
    public var savedValues: Int
    public var savedBytes: Int
    /// FLOPs of the optimizer (and accumulation / clipping) ops, when computed for a training graph.
    public var optimizerFLOPs: Int

    /// What selective differentiation saved compared with differentiating everything.
    public var avoidedFLOPs: Int { backwardFLOPsDifferentiatingEverything - backwardFLOPs }
}

/// Sum of `OpSpec.flops` over the given nodes.
public func flops(of g: Graph, _ nodes: Range<Int>) -> Int {
    nodes.reduce(0) { total, i in
        let n = g.nodes[i]
        return total + n.op.spec.flops(n.operands.map { g.type(of: $0) }, n.type, n.attributes)
    }
}

/// Statistics of differentiating `loss` with respect to `wrt` (default: the trainable parameters), compared with
/// differentiating every floating-point parameter, frozen ones included.
public func autodiffStats(of loss: Value, in g: Graph, wrt: [String]? = nil) throws -> AutodiffStats {
    let selective = try gradients(of: loss, in: g, wrt: wrt)
    let everything = g.parameters.filter { g.type(of: $0.value).dtype.isFloat }.map(\.name)
    let all = try gradients(of: loss, in: g, wrt: everything)
    let fg = selective.graph
    return AutodiffStats(forwardFLOPs: flops(of: fg, 0..<selective.forwardCount),
                         backwardFLOPs: flops(of: fg, selective.forwardCount..<fg.nodes.count),
                         backwardFLOPsDifferentiatingEverything: flops(of: all.graph, all.forwardCount..<all.graph.nodes.count),
                         savedValues: selective.saved.count,
                         savedBytes: selective.saved.reduce(0) { $0 + fg.type(of: $1).byteCount },
                         optimizerFLOPs: 0)
}

extension GradientResult {
    /// The forward graph this result was built from (its first `forwardCount` nodes and outputs that are forward values).
    public func forwardGraph() -> Graph {
        let f = Graph(name: graph.name)
        for n in graph.nodes[..<forwardCount] {
            var plain = n
            plain.notes = [:]
            f.append(plain)
        }
        for o in graph.outputs where o.value.id < forwardCount && !o.name.hasPrefix("grad.") { f.output(o.name, o.value) }
        return f
    }

    /// Statistics of this differentiation, compared with differentiating every parameter.
    public func stats() throws -> AutodiffStats {
        try autodiffStats(of: loss, in: forwardGraph(), wrt: gradients.map(\.name))
    }
}

extension TrainingGraph {
    /// Statistics of this training step, including the optimizer's FLOPs.
    public func stats() throws -> AutodiffStats {
        var s = try gradients.stats()
        s.optimizerFLOPs = flops(of: graph, optimizerStart..<graph.nodes.count)
        return s
    }
}
