import GraphIR

/// `canonicalize`: local algebraic identities that are exact in IEEE arithmetic, then removal of what they left dead.
///
/// Rewrites (only when the result has exactly the type of the value that replaces it, so broadcasting is kept):
/// - `x + 0`, `0 + x`, `x - 0`, `x * 1`, `1 * x`, `x / 1` → `x` (exact; `x + 0` differs from `x` only in the sign of a
///   zero result: `-0 + 0 = +0`, which no op of the IR observes except `div` by that zero).
/// - `neg(neg(x))` → `x`; `cast` to the same dtype, `reshape` to the same shape, identity `transpose`, `broadcast_to`
///   the same shape → `x`.
/// - `reshape(reshape(x))` → one reshape; `transpose(transpose(x, p), q)` → one transpose with the composed perm.
/// - `broadcast_to`, `reshape`, `transpose` of a splat constant → a splat constant of the new type.
/// - Commutative ops put a constant operand second, so CSE sees `add(c, x)` and `add(x, c)` as one.
/// Not done, because it is not IEEE-exact: `x * 0 → 0` (wrong for NaN, ±inf and the sign of zero), `x - x → 0`.
public func canonicalize(_ g: Graph) throws -> Graph {
    let rw = GraphRewriter(g)
    for (i, n) in g.nodes.enumerated() {
        let node = rw.remapped(n)
        if let v = try simplify(node, rw) {
            rw.map[i] = v
        } else {
            rw.map[i] = rw.append(node)
        }
    }
    return eliminateDeadCode(rw.finish())
}

private let commutative: Set<OpKind> = [.add, .mul, .maximum, .minimum, .eq, .ne, .logicalAnd, .logicalOr]

/// The replacement of `node` (operands in the new graph), or nil to keep it.
private func simplify(_ node: Node, _ rw: GraphRewriter) throws -> Value? {
    let g = rw.result
    let ops = node.operands
    func same(_ v: Value) -> Value? { g.type(of: v) == node.type ? v : nil }
    func splat(_ v: Value) -> Double? { g[v].splatValue }

    switch node.op {
    case .add:
        if splat(ops[1]) == 0, let v = same(ops[0]) { return v }
        if splat(ops[0]) == 0, let v = same(ops[1]) { return v }
    case .sub:
        if splat(ops[1]) == 0, let v = same(ops[0]) { return v }
    case .mul:
        if splat(ops[1]) == 1, let v = same(ops[0]) { return v }
        if splat(ops[0]) == 1, let v = same(ops[1]) { return v }
    case .div:
        if splat(ops[1]) == 1, let v = same(ops[0]) { return v }
    case .neg:
        if g[ops[0]].op == .neg, let v = same(g[ops[0]].operands[0]) { return v }
    case .cast, .reshape, .broadcastTo:
        if let v = same(ops[0]) { return v }
        if let s = splat(ops[0]), node.op != .cast { return rw.append(splatConstant(s, node.type, like: node)) }
        if node.op == .reshape, g[ops[0]].op == .reshape {
            return try rw.emit(.reshape, [g[ops[0]].operands[0]], node.attributes, like: node)
        }
    case .transpose:
        guard let perm = node.attributes.ints("perm") else { return nil }
        if perm == Array(0..<perm.count) { return ops[0] }
        if let s = splat(ops[0]) { return rw.append(splatConstant(s, node.type, like: node)) }
        let inner = g[ops[0]]
        if inner.op == .transpose, let p = inner.attributes.ints("perm") {
            // out[k] = mid[q[k]] = x[p[q[k]]]
            let composed = perm.map { p[$0] }
            if composed == Array(0..<composed.count) { return same(inner.operands[0]) }
            return try rw.emit(.transpose, [inner.operands[0]], ["perm": .ints(composed)], like: node)
        }
    default:
        break
    }
    if commutative.contains(node.op), g[ops[0]].op == .constant, g[ops[1]].op != .constant {
        var swapped = node
        swapped.operands = [ops[1], ops[0]]
        return rw.append(swapped)
    }
    return nil
}
