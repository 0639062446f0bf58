import GraphIR

/// `fold-masks`: replaces an additive attention `bias` that is a compile-time mask by the symbolic `mask` attribute.
///
/// The bias may be built any way (iota, compares, where/select, add, mul, broadcasts of constants): the pass
/// evaluates the bias's own subgraph on the reference interpreter and reads the result as a visibility pattern,
/// 0 = visible and <= -1e4 (or -inf) = hidden. It matches none (all visible: the bias is dropped), causal,
/// prefix_causal(n) and block(sizes). When the bias depends on exactly one runtime value of type `i32[B]` (key
/// lengths, `where(iota < lens[b], 0, -1e4)` style), the pass probes it with many length vectors and, if every
/// probe shows `pattern & key j < lens[b]`, folds it to `pattern & padding(lens)`.
///
/// Guarantees: the attention computes the same result wherever every query row has at least one visible key.
/// A row with no visible key gives 0 under the symbolic mask (the `attention` op's definition), whereas a -1e4
/// bias would average all values there. The pass never folds a structural pattern that hides a whole row; with
/// key padding, such a row can still occur at run time when `lens[b]` hides every key of the row's block (e.g.
/// block-diagonal masks with a whole block padded), and then differs as described. The probes check visibility
/// for lengths 1...Lk, not every length vector, so a bias that treats some length specially beyond the probes
/// could be misread; biases built by compares of iota against the lengths are read exactly. A bias it does not
/// recognise is left alone. The dead mask computation is removed, so no `[B, H, L, L]` mask tensor remains.
public func foldMasks(_ g: Graph) throws -> Graph {
    let rw = GraphRewriter(g)
    var changed = false
    for (i, n) in g.nodes.enumerated() {
        var node = rw.remapped(n)
        if n.op == .attention, let folded = try foldedMask(n, in: g) {
            var operands = Array(node.operands.prefix(3))
            if let lens = folded.lens { operands.append(rw.mapped(lens)) }
            node.operands = operands
            node.attributes["mask"] = .mask(folded.mask)
            changed = true
        }
        rw.map[i] = rw.append(node)
    }
    let out = rw.finish()
    return changed ? eliminateDeadCode(out) : out
}

/// Bias values at most this are "hidden" keys: exp(-1e4) underflows to 0 in f32 and f64.
private let hiddenThreshold = -1e4

private func foldedMask(_ att: Node, in g: Graph) throws -> (mask: AttentionMask, lens: Value?)? {
    guard let existing = att.attributes.mask("mask") else { return nil }
    let biasIndex = existing.keyPadding ? 4 : 3
    guard att.operands.count > biasIndex else { return nil }
    let bias = att.operands[biasIndex]
    let (q, k) = (g.type(of: att.operands[0]), g.type(of: att.operands[1]))
    let dims = (b: q.shape[0], h: q.shape[1], lq: q.shape[2], lk: k.shape[2])

    let dynamic = dynamicNodes(g)
    if !dynamic[bias.id] {
        let t = try evaluate(g, bias, lens: nil, lensValue: nil)
        guard let pattern = structuralPattern(t, dims) else { return nil }
        if pattern == .none { return (existing, existing.keyPadding ? att.operands[3] : nil) }
        guard existing.pattern == .none && !existing.keyPadding else { return nil }
        return (AttentionMask(pattern), nil)
    }
    guard existing.pattern == .none && !existing.keyPadding else { return nil }
    guard let lens = lengthsSource(g, bias, batch: dims.b, dynamic: dynamic) else { return nil }
    let full = try evaluate(g, bias, lens: lens, lensValue: Tensor(.i32, [dims.b], repeating: Double(dims.lk)))
    guard let pattern = structuralPattern(full, dims) else { return nil }
    let mask = AttentionMask(pattern, keyPadding: true)
    for probe in lengthProbes(batch: dims.b, lk: dims.lk) {
        let t = try evaluate(g, bias, lens: lens, lensValue: probe)
        for b in 0..<dims.b {
            for h in 0..<dims.h {
                for i in 0..<dims.lq {
                    for j in 0..<dims.lk {
                        let expected = mask.allows(query: i, key: j, lq: dims.lq, lk: dims.lk) && j < Int(probe.scalars[b])
                        guard visibility(t.scalars[maskIndex([b, h, i, j], from: t.shape)]) == expected else { return nil }
                    }
                }
            }
        }
    }
    return (mask, lens)
}

/// Length vectors to probe a padding mask with: every uniform length 1...Lk (a spread of them for long sequences)
/// and vectors whose entries differ across the batch.
private func lengthProbes(batch: Int, lk: Int) -> [Tensor] {
    let uniform = lk <= 64 ? Array(1...lk) : Array(Set((0..<16).map { 1 + $0 * (lk - 1) / 15 })).sorted()
    var probes = uniform.map { Tensor(.i32, [batch], repeating: Double($0)) }
    for v in 0..<min(lk, 4) {
        probes.append(Tensor(.i32, [batch], (0..<batch).map { Double(1 + (v + 3 * $0) % lk) }))
    }
    return probes
}

/// true = visible (exactly 0), false = hidden (<= -1e4), nil = not a mask value.
private func visibility(_ x: Double) -> Bool? {
    if x == 0 { return true }
    if x <= hiddenThreshold { return false }
    return nil
}

/// The structural pattern the bias shows, identical for every batch and head, with no fully hidden row.
private func structuralPattern(_ t: Tensor, _ d: (b: Int, h: Int, lq: Int, lk: Int)) -> MaskPattern? {
    var rows: [[Bool]] = []
    for i in 0..<d.lq {
        var row: [Bool] = []
        for j in 0..<d.lk {
            guard let v = visibility(t.scalars[maskIndex([0, 0, i, j], from: t.shape)]) else { return nil }
            row.append(v)
        }
        guard row.contains(true) else { return nil }
        rows.append(row)
    }
    for b in 0..<d.b {
        for h in 0..<d.h {
            for i in 0..<d.lq {
                for j in 0..<d.lk where visibility(t.scalars[maskIndex([b, h, i, j], from: t.shape)]) != rows[i][j] {
                    return nil
                }
            }
        }
    }
    func matches(_ p: MaskPattern) -> Bool {
        let m = AttentionMask(p)
        for i in 0..<d.lq { for j in 0..<d.lk where m.allows(query: i, key: j, lq: d.lq, lk: d.lk) != rows[i][j] { return false } }
        return true
    }
    var candidates: [MaskPattern] = [.none, .causal]
    let firstRow = rows[0].filter { $0 }.count
    if firstRow < d.lk { candidates.append(.prefixCausal(firstRow)) }
    if d.lq == d.lk {
        var sizes: [Int] = [], start = 0
        while start < d.lk {
            let size = rows[start][start...].prefix(while: { $0 }).count
            guard size > 0 else { break }
            sizes.append(size)
            start += size
        }
        if start == d.lk && sizes.count > 1 { candidates.append(.block(sizes)) }
    }
    return candidates.first(where: matches)
}

/// Nodes whose value depends on something only known at run time (inputs, parameters, random numbers).
func dynamicNodes(_ g: Graph) -> [Bool] {
    var dynamic = [Bool](repeating: false, count: g.nodes.count)
    for (i, n) in g.nodes.enumerated() {
        dynamic[i] = n.op == .input || n.op == .parameter || n.op == .randomUniform || n.op == .sampleCategorical
            || n.operands.contains { dynamic[$0.id] }
    }
    return dynamic
}

/// The one `i32[B]` value through which the bias depends on run-time data, if there is one.
private func lengthsSource(_ g: Graph, _ bias: Value, batch: Int, dynamic: [Bool]) -> Value? {
    let ancestors = ancestry(g, of: bias)
    let candidates = ancestors.reversed().filter { dynamic[$0.id] && g.type(of: $0) == TensorType(.i32, [batch]) }
    for cand in candidates {
        let upstream = Set(ancestry(g, of: cand))
        // With `cand` as a leaf, every other dynamic ancestor of the bias must depend on it.
        var viaCandidate = [Bool](repeating: false, count: g.nodes.count)
        var ok = true
        for v in ancestors {
            let n = g[v]
            if v == cand { viaCandidate[v.id] = true; continue }
            let fromCandidate = n.operands.contains { viaCandidate[$0.id] }
            viaCandidate[v.id] = fromCandidate
            if dynamic[v.id] && !fromCandidate && !upstream.contains(v) { ok = false; break }
        }
        if ok { return cand }
    }
    return nil
}

/// `v` and everything it depends on, in graph order.
func ancestry(_ g: Graph, of v: Value) -> [Value] {
    var need = [Bool](repeating: false, count: v.id + 1)
    need[v.id] = true
    for i in stride(from: v.id, through: 0, by: -1) where need[i] {
        for o in g.nodes[i].operands { need[o.id] = true }
    }
    return need.indices.filter { need[$0] }.map(Value.init)
}

/// Evaluates `v` on the interpreter from its own subgraph, with `lens` (if any) replaced by `lensValue`.
private func evaluate(_ g: Graph, _ v: Value, lens: Value?, lensValue: Tensor?) throws -> Tensor {
    let sub = Graph(name: "mask")
    var map: [Int: Value] = [:]
    let upstream = Set(lens.map { ancestry(g, of: $0) } ?? [])
    for a in ancestry(g, of: v) {
        if a == lens {
            map[a.id] = sub.append(Node(op: .input, operands: [], attributes: ["name": .string("lens")], type: g.type(of: a)))
            continue
        }
        guard !upstream.contains(a) else { continue }
        var n = g[a]
        n.operands = n.operands.compactMap { map[$0.id] }
        guard n.operands.count == g[a].operands.count else { continue }
        map[a.id] = sub.append(n)
    }
    guard let out = map[v.id] else { throw GraphError(.evaluate, "fold-masks: cannot isolate the bias of attention") }
    sub.outputs = [("bias", out)]
    let result = try Interpreter().run(sub, inputs: lensValue.map { ["lens": $0] } ?? [:], parameters: [:])
    guard let t = result["bias"] else { throw GraphError(.evaluate, "fold-masks: bias did not evaluate") }
    return t
}

/// The flat index into a tensor of `shape` that element `index` of its broadcast to rank 4 reads.
private func maskIndex(_ index: [Int], from shape: [Int]) -> Int {
    let offset = index.count - shape.count
    var flat = 0
    for d in 0..<shape.count { flat = flat * shape[d] + (shape[d] == 1 ? 0 : index[d + offset]) }
    return flat
}
