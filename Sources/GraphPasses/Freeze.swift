import GraphIR

/// The result of `freeze`: the folded graph and the values of the frozen parameters it derived.
public struct FrozenGraph {
    public var graph: Graph
    /// New frozen parameters (e.g. `q.weight.concat` for the concatenated Q/K/V weights), by name; bind them
    /// together with the original parameters when running `graph`.
    public var derived: [String: Tensor]
}

/// `freeze`: frozen parameters are constants to the compiler. Every node whose operands are all known at compile
/// time (constants, iota, frozen parameters whose values are given, and nodes computed from those) is evaluated
/// on the reference interpreter once. Where such a value is read by run-time work, it is materialized:
/// - as a constant when it depends on constants only (splat constants stay one number; a non-splat result larger
///   than 65536 elements is left unfolded to keep graphs small),
/// - as a new frozen parameter when it depends on a frozen parameter (a transposed, scaled or concatenated
///   weight), whose value is returned in `derived`.
/// A `broadcast_to` of a known value is kept and its operand materialized, so folding never inflates data.
/// Trainable parameters, optimizer state, inputs and random ops are never folded, so a frozen subgraph downstream
/// of a trainable parameter stays. Parameters that become unused stay in the graph (they are its interface).
public func freeze(_ g: Graph, parameterValues: [String: Tensor] = [:]) throws -> FrozenGraph {
    var known = [Bool](repeating: false, count: g.nodes.count)
    var usesParameter = [Bool](repeating: false, count: g.nodes.count)
    for (i, n) in g.nodes.enumerated() {
        switch n.op {
        case .constant, .iota:
            known[i] = true
        case .parameter:
            guard n.role == .frozen, let name = n.name, let value = parameterValues[name] else { continue }
            guard value.type == n.type else {
                throw GraphError(.evaluate, "freeze: value of frozen parameter '\(name)' is \(value.type), the graph declares \(n.type)")
            }
            known[i] = true
            usesParameter[i] = true
        case .input, .randomUniform, .sampleCategorical:
            continue
        default:
            known[i] = n.operands.allSatisfy { known[$0.id] }
            usesParameter[i] = n.operands.contains { usesParameter[$0.id] }
        }
    }
    // Known non-leaf values read by run-time work or by results: these get materialized.
    var frontier = Set<Int>()
    func materialize(_ v: Value) {
        let n = g[v]
        guard known[v.id], !n.isLeaf, n.op != .iota else { return }
        if n.op == .broadcastTo { materialize(n.operands[0]); return }
        if !usesParameter[v.id] && n.type.count > 65_536 { return }
        frontier.insert(v.id)
    }
    // Walk back from the results: a needed node that is not materialized is computed at run time, so its known
    // operands are materialized (or, for a big constant-only one, computed at run time in turn).
    var needed = [Bool](repeating: false, count: g.nodes.count)
    for v in g.outputs.map(\.value) + g.updates.map(\.value) {
        needed[v.id] = true
        materialize(v)
    }
    for i in stride(from: g.nodes.count - 1, through: 0, by: -1) where needed[i] && !frontier.contains(i) {
        for o in g.nodes[i].operands {
            needed[o.id] = true
            materialize(o)
        }
    }
    guard !frontier.isEmpty else { return FrozenGraph(graph: g, derived: [:]) }

    let values = try evaluateKnown(g, known: known, frontier: frontier.sorted(), parameterValues: parameterValues)
    let rw = GraphRewriter(g)
    var derived: [String: Tensor] = [:]
    var names = Set(g.parameters.map(\.name))
    for (i, n) in g.nodes.enumerated() {
        guard frontier.contains(i), let t = values[i] else {
            rw.map[i] = rw.append(rw.remapped(n))
            continue
        }
        if usesParameter[i] {
            let name = uniqueName(derivedName(Value(i), g), &names)
            derived[name] = t
            rw.map[i] = rw.append(Node(op: .parameter, operands: [], attributes: ["name": .string(name), "role": .symbol("frozen")],
                                       type: n.type, scope: n.scope, location: n.location))
        } else {
            rw.map[i] = rw.append(constantNode(t, like: n))
        }
    }
    return FrozenGraph(graph: eliminateDeadCode(rw.finish()), derived: derived)
}

/// Evaluates the known part of `g` and returns the values of the frontier nodes.
private func evaluateKnown(_ g: Graph, known: [Bool], frontier: [Int], parameterValues: [String: Tensor]) throws -> [Int: Tensor] {
    let sub = Graph(name: "freeze")
    var map: [Int: Value] = [:]
    for (i, n) in g.nodes.enumerated() where known[i] {
        var node = n
        node.operands = n.operands.map { map[$0.id]! }
        map[i] = sub.append(node)
    }
    sub.outputs = frontier.map { ("\($0)", map[$0]!) }
    let out = try Interpreter().run(sub, inputs: [:], parameters: parameterValues)
    var result: [Int: Tensor] = [:]
    for i in frontier { result[i] = out["\(i)"] }
    return result
}

/// `<first frozen parameter it reads>.<op>`, e.g. `q.weight.concat`.
private func derivedName(_ v: Value, _ g: Graph) -> String {
    let first = ancestry(g, of: v).lazy.compactMap { g[$0].op == .parameter ? g[$0].name : nil }.first ?? "folded"
    return "\(first).\(g[v].op.mnemonic)"
}

private func uniqueName(_ base: String, _ taken: inout Set<String>) -> String {
    var name = base, k = 1
    while taken.contains(name) { k += 1; name = "\(base).\(k)" }
    taken.insert(name)
    return name
}
