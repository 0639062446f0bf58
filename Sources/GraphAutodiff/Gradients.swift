import GraphIR

/// How much gradient work a forward node does in the differentiated graph (the `grad` note).
public enum GradientKind: String, Sendable {
    /// Every weight-like operand and every active input gets its cotangent.
    case full
    /// The node passes cotangents to its active inputs but computes none for a frozen weight-like operand
    /// (a frozen layer downstream of a trainable one: dX but no dW).
    case inputOnly = "input_only"
    /// No adjoint: the node is upstream of every differentiated parameter, or the loss does not depend on it.
    case none
}

/// The result of `gradients(of:in:wrt:)`: one new graph holding the forward pass, the backward pass and the
/// gradients as named outputs `grad.<parameter name>`.
public struct GradientResult {
    /// Forward nodes keep their indices (`0..<forwardCount`); backward nodes follow.
    public let graph: Graph
    public let loss: Value
    /// Gradient values in `graph`, in the order of the requested parameters.
    public let gradients: [(name: String, value: Value)]
    public let forwardCount: Int
    public let activity: ActivityAnalysis
    /// Per forward node: the gradient kind (see `GradientKind`).
    public let kinds: [GradientKind]
    /// Forward values (neither parameters nor constants) that the backward pass reads, ascending.
    public let saved: [Value]

    public func gradient(_ name: String) -> Value? { gradients.first { $0.name == name }?.value }

    /// The backward nodes (everything appended after the forward pass).
    public var backwardValues: [Value] { (forwardCount..<graph.nodes.count).map(Value.init) }
}

/// Reverse-mode differentiation as a graph-to-graph transform.
///
/// Returns a new graph: a copy of `g` (same node indices) followed by the backward pass, with a named output
/// `grad.<name>` per differentiated parameter. `wrt` names the parameters (default: every `trainable` one); frozen
/// parameters may be named explicitly. Only active nodes (see `ActivityAnalysis`) get adjoints and each VJP rule
/// is told which operands need a cotangent, so frozen weights downstream get no dW ops and frozen blocks upstream
/// get no backward ops at all. Fan-out is accumulated with `add`. Forward nodes are annotated with
/// `grad = full|input_only|none` (ops and parameters) and `saved = true` (values the backward reads).
/// Backward nodes carry the scope `backward.<forward scope>`.
public func gradients(of loss: Value, in g: Graph, wrt: [String]? = nil) throws -> GradientResult {
    guard loss.id >= 0 && loss.id < g.nodes.count else { throw GraphError(.build, "gradients: loss \(loss) is not a value of graph '\(g.name)'") }
    guard g.type(of: loss).dtype.isFloat else {
        throw GraphError(.build, "gradients: the loss must be f32 or f64, got \(g.type(of: loss))")
    }
    let targets = try differentiatedParameters(g, wrt)
    let activity = ActivityAnalysis(g, loss: loss, wrt: Set(targets.map(\.value)))
    let out = g.copy()
    let forwardCount = g.nodes.count

    var adjoint: [Int: Value] = [:]
    adjoint[loss.id] = try out.scope("backward") { try out.constant(1, shape: g.type(of: loss).shape, g.type(of: loss).dtype) }
    for i in stride(from: loss.id, through: 0, by: -1) where activity.active[i] {
        guard let cotangent = adjoint[i] else { continue }
        let node = g.nodes[i]
        guard case .rule(let rule) = node.op.spec.vjp else { continue }
        let needs = node.operands.map { activity.active[$0.id] }
        guard needs.contains(true) else { continue }
        let ctx = VJPContext(graph: out, node: node, result: Value(i), cotangent: cotangent, needs: needs)
        let cotangents = try inBackwardScope(out, of: node) { try rule(ctx) }
        try checkCotangents(cotangents, of: node, needs: needs, in: out)
        for (k, ct) in cotangents.enumerated() {
            guard let ct else { continue }
            let o = node.operands[k].id
            adjoint[o] = try adjoint[o].map { prior in try inBackwardScope(out, of: g.nodes[o]) { try out.add(prior, ct) } } ?? ct
        }
    }

    var grads: [(name: String, value: Value)] = []
    for p in targets {
        let value = try adjoint[p.value.id] ?? out.constant(0, shape: g.type(of: p.value).shape, g.type(of: p.value).dtype)
        grads.append((p.name, value))
        out.output("grad." + p.name, value)
    }
    let kinds = gradientKinds(g, activity, targets: Set(targets.map(\.value)))
    let saved = savedValues(out, forwardCount: forwardCount)
    annotate(out, kinds: kinds, saved: saved)
    return GradientResult(graph: out, loss: loss, gradients: grads, forwardCount: forwardCount,
                          activity: activity, kinds: kinds, saved: saved)
}

/// The parameters named by `wrt`, or every trainable one.
func differentiatedParameters(_ g: Graph, _ wrt: [String]?) throws -> [(name: String, value: Value)] {
    let params = g.parameters
    guard let wrt else { return params.filter { $0.role == .trainable }.map { ($0.name, $0.value) } }
    return try wrt.map { name in
        guard let p = params.first(where: { $0.name == name }) else {
            throw GraphError(.build, "gradients: graph '\(g.name)' has no parameter named '\(name)'")
        }
        guard g.type(of: p.value).dtype.isFloat else {
            throw GraphError(.build, "gradients: parameter '\(name)' is \(g.type(of: p.value)), not floating point")
        }
        return (p.name, p.value)
    }
}

private func inBackwardScope<R>(_ g: Graph, of node: Node, _ body: () throws -> R) throws -> R {
    try g.scope("backward") { node.scope.isEmpty ? try body() : try g.scope(node.scope, body) }
}

/// A rule must return one entry per operand, nothing for operands that need no cotangent, and cotangents of the
/// operand's exact type.
private func checkCotangents(_ cts: [Value?], of node: Node, needs: [Bool], in g: Graph) throws {
    let place = "\(node.location): \(node.op.mnemonic)\(node.scope.isEmpty ? "" : " in scope '\(node.scope)'")"
    guard cts.count == node.operands.count else {
        throw GraphError(.build, "\(place): VJP rule returned \(cts.count) cotangents for \(node.operands.count) operands")
    }
    for (k, ct) in cts.enumerated() {
        guard let ct else { continue }
        guard needs[k] else { throw GraphError(.build, "\(place): VJP rule returned a cotangent for operand \(k), which needs none") }
        let want = g.type(of: node.operands[k]), got = g.type(of: ct)
        guard want == got else { throw GraphError(.build, "\(place): VJP rule gave operand \(k) a cotangent of type \(got), expected \(want)") }
    }
}

private func gradientKinds(_ g: Graph, _ a: ActivityAnalysis, targets: Set<Value>) -> [GradientKind] {
    g.nodes.indices.map { i in
        let n = g.nodes[i]
        if n.op == .parameter { return targets.contains(Value(i)) && a.active[i] ? .full : .none }
        guard a.active[i] else { return .none }
        let skipsFrozenWeight = ActivityAnalysis.differentiableOperands(g, n).contains { k in
            let o = n.operands[k].id
            return !a.active[o] && a.weightLike[o]
        }
        return skipsFrozenWeight ? .inputOnly : .full
    }
}

private func savedValues(_ g: Graph, forwardCount: Int) -> [Value] {
    var read = Set<Int>()
    for n in g.nodes[forwardCount...] {
        for o in n.operands where o.id < forwardCount { read.insert(o.id) }
    }
    return read.sorted().filter { ![.parameter, .constant].contains(g.nodes[$0].op) }.map(Value.init)
}

private func annotate(_ g: Graph, kinds: [GradientKind], saved: [Value]) {
    for (i, kind) in kinds.enumerated() where ![.input, .constant].contains(g.nodes[i].op) {
        var notes = g.nodes[i].notes
        notes["grad"] = .symbol(kind.rawValue)
        g.setNotes(Value(i), notes)
    }
    for v in saved {
        var notes = g[v].notes
        notes["saved"] = .bool(true)
        g.setNotes(v, notes)
    }
}
