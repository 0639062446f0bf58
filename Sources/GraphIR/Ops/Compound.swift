// Compound ops kept whole because they are clearer and faster whole:
// softmax, log_softmax, layer_norm, rms_norm, gelu, cross_entropy, attention.

private func lastAxisRows(_ x: Tensor, axis: Int) -> (outer: Int, n: Int, inner: Int) {
    splitAround(x.shape, normalizeAxis(axis, rank: x.shape.count)!)
}

private func axisType(_ c: InferContext) throws -> TensorType {
    let x = c.operands[0]
    try requireFloat(x)
    guard normalizeAxis(try attr(c.attributes.int("axis"), "axis"), rank: x.rank) != nil else {
        throw ShapeError("axis out of range for rank \(x.rank)")
    }
    return x
}

/// Applies `f` to every 1-D lane along `axis` (lanes are gathered, transformed, scattered back).
private func mapLanes(_ x: Tensor, axis: Int, _ f: ([Double]) -> [Double]) -> [Double] {
    let (outer, n, inner) = lastAxisRows(x, axis: axis)
    var out = x.scalars
    for o in 0..<outer {
        for i in 0..<inner {
            let lane = (0..<n).map { x.scalars[(o * n + $0) * inner + i] }
            for (j, v) in f(lane).enumerated() { out[(o * n + j) * inner + i] = v }
        }
    }
    return out
}

func referenceSoftmax(_ lane: [Double]) -> [Double] {
    let m = lane.max() ?? 0
    let e = lane.map { libm_exp($0 - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

func referenceLogSoftmax(_ lane: [Double]) -> [Double] {
    let m = lane.max() ?? 0
    let lse = m + libm_log(lane.map { libm_exp($0 - m) }.reduce(0, +))
    return lane.map { $0 - lse }
}

private func normType(_ c: InferContext, _ name: String) throws -> TensorType {
    let x = c.operands[0]
    try requireFloat(x)
    try check(x.rank >= 1, "\(name) needs rank >= 1")
    for p in c.operands.dropFirst() {
        try check(p.dtype == x.dtype && p.shape == [x.shape.last!], "scale/shift must be \(x.dtype.rawValue)[\(x.shape.last!)], got \(p)")
    }
    _ = try attr(c.attributes.float("eps"), "eps")
    return x
}

let compoundOps: [OpKind: OpSpec] = [
    .softmax: OpSpec(
        "softmax", arity: 1...1, attributes: [AttrSchema("axis", .int)], fusion: .opaque,
        inferType: axisType,
        evaluate: { a, n in Tensor(n.type.dtype, n.type.shape, mapLanes(a[0], axis: n.attributes.int("axis")!, referenceSoftmax)) },
        vjp: .rule(softmaxVJP),
        flops: { _, r, _ in r.count * 5 }),
    .logSoftmax: OpSpec(
        "log_softmax", arity: 1...1, attributes: [AttrSchema("axis", .int)], fusion: .opaque,
        inferType: axisType,
        evaluate: { a, n in Tensor(n.type.dtype, n.type.shape, mapLanes(a[0], axis: n.attributes.int("axis")!, referenceLogSoftmax)) },
        vjp: .rule(logSoftmaxVJP),
        flops: { _, r, _ in r.count * 5 }),
    .layerNorm: OpSpec(
        // y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis (biased variance, as PyTorch).
        "layer_norm", arity: 1...3, attributes: [AttrSchema("eps", .float)], fusion: .opaque,
        inferType: { c in try normType(c, "layer_norm") },
        evaluate: { a, n in
            let x = a[0], eps = n.attributes.float("eps")!
            let d = x.shape.last!
            var out = x.scalars
            for r in 0..<(x.count / max(d, 1)) {
                let lane = Array(x.scalars[(r * d)..<((r + 1) * d)])
                let mean = lane.reduce(0, +) / Double(d)
                let v = lane.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)
                let inv = 1 / (v + eps).squareRoot()
                for j in 0..<d {
                    var y = (lane[j] - mean) * inv
                    if a.count > 1 { y *= a[1].scalars[j] }
                    if a.count > 2 { y += a[2].scalars[j] }
                    out[r * d + j] = y
                }
            }
            return Tensor(n.type.dtype, n.type.shape, out)
        },
        vjp: .rule(layerNormVJP),
        flops: { _, r, _ in r.count * 8 }),
    .rmsNorm: OpSpec(
        // y = x / sqrt(mean(x^2) + eps) * gamma over the last axis (T5 / LLaMA).
        "rms_norm", arity: 1...2, attributes: [AttrSchema("eps", .float)], fusion: .opaque,
        inferType: { c in try normType(c, "rms_norm") },
        evaluate: { a, n in
            let x = a[0], eps = n.attributes.float("eps")!
            let d = x.shape.last!
            var out = x.scalars
            for r in 0..<(x.count / max(d, 1)) {
                let lane = Array(x.scalars[(r * d)..<((r + 1) * d)])
                let inv = 1 / (lane.map { $0 * $0 }.reduce(0, +) / Double(d) + eps).squareRoot()
                for j in 0..<d { out[r * d + j] = lane[j] * inv * (a.count > 1 ? a[1].scalars[j] : 1) }
            }
            return Tensor(n.type.dtype, n.type.shape, out)
        },
        vjp: .rule(rmsNormVJP),
        flops: { _, r, _ in r.count * 5 }),
    .gelu: OpSpec(
        "gelu", arity: 1...1, attributes: [AttrSchema("approximate", .symbol(["none", "tanh"]), required: false)],
        fusion: .elementwise,
        inferType: { c in
            try requireFloat(c.operands[0])
            return c.operands[0]
        },
        evaluate: { a, n in
            let f = n.attributes.symbol("approximate") == "tanh" ? geluTanh : geluErf
            return Tensor(n.type.dtype, n.type.shape, a[0].scalars.map(f))
        },
        vjp: .rule(geluVJP),
        flops: { _, r, _ in r.count * 10 }),
    .crossEntropy: OpSpec(
        // Mean over non-ignored rows of (1-ε)·(−log p[label]) + ε·mean_c(−log p[c]) (PyTorch's label smoothing).
        // A batch with every label ignored gives 0.
        "cross_entropy", arity: 2...2,
        attributes: [AttrSchema("ignore_index", .int, required: false), AttrSchema("label_smoothing", .float, required: false)],
        fusion: .opaque,
        inferType: { c in
            let (logits, labels) = (c.operands[0], c.operands[1])
            try requireFloat(logits, "logits")
            try check(labels.dtype == .i32, "labels must be i32, got \(labels.dtype.rawValue)")
            try check(logits.rank >= 1 && Array(logits.shape.dropLast()) == labels.shape,
                      "logits \(logits.shape) must be labels \(labels.shape) plus a class axis")
            let eps = c.attributes.float("label_smoothing") ?? 0
            try check(eps >= 0 && eps <= 1, "label_smoothing must be in [0, 1], got \(eps)")
            return TensorType(logits.dtype, [])
        },
        evaluate: { a, n in
            let (x, labels) = (a[0], a[1])
            let ignore = n.attributes.int("ignore_index") ?? -100, eps = n.attributes.float("label_smoothing") ?? 0
            let c = x.shape.last!
            var total = 0.0, count = 0
            for r in 0..<labels.count {
                let y = Int(labels.scalars[r])
                if y == ignore { continue }
                guard y >= 0 && y < c else { throw GraphError(.evaluate, "cross_entropy: label \(y) out of range [0, \(c))") }
                let lp = referenceLogSoftmax(Array(x.scalars[(r * c)..<((r + 1) * c)]))
                total += -(1 - eps) * lp[y] - eps * lp.reduce(0, +) / Double(c)
                count += 1
            }
            return Tensor(n.type.dtype, [], [count == 0 ? 0 : total / Double(count)])
        },
        vjp: .rule(crossEntropyVJP),
        flops: { ops, _, _ in ops[0].count * 6 }),
    .attention: OpSpec(
        // softmax(scale · q·kᵀ + bias, masked) · v per batch and head.
        // Operands: q [B, H, Lq, D], k [B, Hk, Lk, D], v [B, Hk, Lk, Dv], then `lens` i32[B] when the mask has
        // padding, then an optional additive bias broadcastable to [B, H, Lq, Lk]. H must be a multiple of Hk
        // (grouped-query attention: head h reads key/value head h / (H / Hk)). A row with no visible key is 0.
        "attention", arity: 3...5, attributes: [AttrSchema("mask", .mask), AttrSchema("scale", .float)], fusion: .opaque,
        inferType: { c in
            let (q, k, v) = (c.operands[0], c.operands[1], c.operands[2])
            try checkQueryKey(c, q: q, k: k, next: 3, takes: "q, k, v")
            _ = try sameDType([q, k, v])
            try check(v.rank == 4 && v.shape[0] == q.shape[0], "v must be [B, Hk, Lk, Dv] with the batch size of q")
            try check(k.shape[1] == v.shape[1], "key and value head counts differ: \(k.shape[1]) vs \(v.shape[1])")
            try check(k.shape[2] == v.shape[2], "keys and values have different lengths")
            return TensorType(q.dtype, [q.shape[0], q.shape[1], q.shape[2], v.shape[3]])
        },
        evaluate: { a, n in
            let (q, v) = (a[0], a[2])
            let p = attentionProbabilities(a, n, rest: 3)
            let (bh, lq, lk, dv) = (q.shape[0] * q.shape[1], q.shape[2], v.shape[2], v.shape[3])
            let groups = q.shape[1] / v.shape[1]
            var out = [Double](repeating: 0, count: n.type.count)
            for r in 0..<bh {
                let vo = (r / groups) * lk * dv  // (b·H + h) / G = b·Hk + h / G, since H = Hk·G
                for i in 0..<lq {
                    for j in 0..<lk where p[(r * lq + i) * lk + j] != 0 {
                        let w = p[(r * lq + i) * lk + j]
                        for t in 0..<dv { out[(r * lq + i) * dv + t] += w * v.scalars[vo + j * dv + t] }
                    }
                }
            }
            return Tensor(n.type.dtype, n.type.shape, out)
        },
        vjp: .rule(attentionVJP),
        flops: { ops, _, _ in
            let (q, k, v) = (ops[0], ops[1], ops[2])
            let scores = Double(q.shape[0]) * Double(q.shape[1]) * Double(q.shape[2]) * Double(k.shape[2])
            return cappedFlops(2 * scores * Double(q.shape[3] + v.shape[3]) + 5 * scores)
        }),
    .attentionProbs: OpSpec(
        // The attention weights softmax(scale · q·kᵀ + bias, masked) as a [B, H, Lq, Lk] tensor: masked entries and
        // rows with no visible key are 0. Operands and attributes as `attention` without v. Attention's backward
        // reads these instead of keeping them from the forward pass.
        "attention_probs", arity: 2...4, attributes: [AttrSchema("mask", .mask), AttrSchema("scale", .float)], fusion: .opaque,
        inferType: { c in
            let (q, k) = (c.operands[0], c.operands[1])
            try checkQueryKey(c, q: q, k: k, next: 2, takes: "q, k")
            return TensorType(q.dtype, [q.shape[0], q.shape[1], q.shape[2], k.shape[2]])
        },
        evaluate: { a, n in Tensor(n.type.dtype, n.type.shape, attentionProbabilities(a, n, rest: 2)) },
        vjp: .rule(attentionProbsVJP),
        flops: { ops, _, _ in
            let (q, k) = (ops[0], ops[1])
            let scores = Double(q.shape[0]) * Double(q.shape[1]) * Double(q.shape[2]) * Double(k.shape[2])
            return cappedFlops(2 * scores * Double(q.shape[3]) + 5 * scores)
        }),
]

// MARK: attention operands and reference probabilities

/// Checks q and k, the mask and scale attributes, and the optional `lens` and bias operands from index `next` on.
private func checkQueryKey(_ c: InferContext, q: TensorType, k: TensorType, next start: Int, takes: String) throws {
    _ = try sameDType([q, k])
    try requireFloat(q)
    try check(q.rank == 4 && k.rank == 4, "q and k must be [B, H, L, D], got \(q.shape) and \(k.shape)")
    try check(k.shape[0] == q.shape[0], "batch sizes differ")
    try check(k.shape[1] > 0 && q.shape[1] % k.shape[1] == 0,
              "query heads \(q.shape[1]) must be a multiple of key/value heads \(k.shape[1])")
    try check(q.shape[3] == k.shape[3], "query and key head sizes differ")
    let mask = try attr(c.attributes.mask("mask"), "mask")
    _ = try attr(c.attributes.float("scale"), "scale")
    var next = start
    if mask.keyPadding {
        try check(c.operands.count > next, "padding mask needs a lens operand")
        let lens = c.operands[next]
        try check(lens.dtype == .i32 && lens.shape == [q.shape[0]], "lens must be i32[\(q.shape[0])], got \(lens)")
        next += 1
    }
    if c.operands.count > next {
        let bias = c.operands[next]
        try check(bias.dtype == q.dtype, "bias dtype must be \(q.dtype.rawValue)")
        let full = [q.shape[0], q.shape[1], q.shape[2], k.shape[2]]
        try check(broadcastShapes(bias.shape, full) == full, "bias \(bias.shape) does not broadcast to \(full)")
        next += 1
    }
    try check(c.operands.count == next, "\(takes)\(mask.keyPadding ? ", lens" : "") and an optional bias")
    if case .block(let sizes) = mask.pattern {
        try check(q.shape[2] == k.shape[2] && sizes.reduce(0, +) == q.shape[2] && sizes.allSatisfy { $0 > 0 },
                  "block sizes \(sizes) must partition the sequence of length \(q.shape[2]) (and Lq == Lk)")
    }
}

/// The masked attention weights [B, H, Lq, Lk] (reference loops). `rest` is the index of the first operand after
/// q, k (and v): `lens` when the mask has padding, then the optional bias.
private func attentionProbabilities(_ a: [Tensor], _ n: Node, rest: Int) -> [Double] {
    let (q, k) = (a[0], a[1])
    let mask = n.attributes.mask("mask")!, scale = n.attributes.float("scale")!
    let (b, h, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (hk, lk) = (k.shape[1], k.shape[2])
    let lens: Tensor? = mask.keyPadding ? a[rest] : nil
    let bias: Tensor? = a.count > rest + (mask.keyPadding ? 1 : 0) ? a.last : nil
    var p = [Double](repeating: 0, count: b * h * lq * lk)
    for bi in 0..<b {
        for hi in 0..<h {
            let kh = hi / (h / hk)
            for i in 0..<lq {
                var scores = [Double](repeating: -.infinity, count: lk)
                for j in 0..<lk {
                    guard mask.allows(query: i, key: j, lq: lq, lk: lk) else { continue }
                    if let lens, j >= Int(lens.scalars[bi]) { continue }
                    var s = 0.0
                    for t in 0..<d {
                        s += q.scalars[((bi * h + hi) * lq + i) * d + t] * k.scalars[((bi * hk + kh) * lk + j) * d + t]
                    }
                    s *= scale
                    if let bias { s += bias.scalars[broadcastSource([bi, hi, i, j], from: bias.shape)] }
                    scores[j] = s
                }
                guard let m = scores.max(), m > -.infinity else { continue }
                let e = scores.map { $0 == -.infinity ? 0 : libm_exp($0 - m) }
                let z = e.reduce(0, +)
                for j in 0..<lk { p[((bi * h + hi) * lq + i) * lk + j] = e[j] / z }
            }
        }
    }
    return p
}

// MARK: VJP rules

private func softmaxVJP(_ ctx: VJPContext) throws -> [Value?] {
    // dx = y ⊙ (g − Σ g⊙y)
    let g = ctx.graph, y = ctx.result, ct = ctx.cotangent, axis = ctx.attributes.int("axis") ?? -1
    return try ctx.cotangents { _ in try g.mul(y, g.sub(ct, g.sumKeeping(g.mul(ct, y), axis: axis))) }
}

private func logSoftmaxVJP(_ ctx: VJPContext) throws -> [Value?] {
    // dx = g − softmax(x) · Σ g
    let g = ctx.graph, y = ctx.result, ct = ctx.cotangent, axis = ctx.attributes.int("axis") ?? -1
    return try ctx.cotangents { _ in try g.sub(ct, g.mul(g.exp(y), g.sumKeeping(ct, axis: axis))) }
}

/// With x̂ = (x − μ)·r, r = 1/√(var + eps), y = x̂·γ + β:  dβ = Σ_rows g,  dγ = Σ_rows g⊙x̂,
/// dx = r · (dx̂ − mean(dx̂) − x̂ · mean(dx̂⊙x̂)) with dx̂ = g⊙γ. x̂ and r are recomputed from x, so the
/// backward keeps only x (and γ) alive; nothing is emitted for a cotangent that is not needed.
private func layerNormVJP(_ ctx: VJPContext) throws -> [Value?] {
    let g = ctx.graph, x = ctx.operands[0], ct = ctx.cotangent
    let eps = ctx.attributes.float("eps") ?? 0
    let width = ctx.shape(0).last ?? 1
    var stats: (xhat: Value, inv: Value)?
    func normalized() throws -> (xhat: Value, inv: Value) {
        if let stats { return stats }
        let centered = try g.sub(x, g.reduceMean(x, axes: [-1], keepDims: true))
        let variance = try g.reduceMean(g.mul(centered, centered), axes: [-1], keepDims: true)
        let inv = try g.rsqrt(g.binary(.add, variance, scalar: eps))
        stats = (try g.mul(centered, inv), inv)
        return stats!
    }
    return try ctx.cotangents { i in
        switch i {
        case 0:
            let (xhat, inv) = try normalized()
            let dxhat = ctx.operands.count > 1 ? try g.mul(ct, ctx.operands[1]) : ct
            let meanD = try g.reduceMean(dxhat, axes: [-1], keepDims: true)
            let meanDX = try g.reduceMean(g.mul(dxhat, xhat), axes: [-1], keepDims: true)
            return try g.mul(inv, g.sub(g.sub(dxhat, meanD), g.mul(xhat, meanDX)))
        case 1: return try g.unbroadcast(g.mul(ct, normalized().xhat), to: [width])
        default: return try g.unbroadcast(ct, to: [width])
        }
    }
}

/// With r = 1/√(mean(x²) + eps), x̂ = x·r, y = x̂·γ:  dγ = Σ_rows g⊙x̂,  dx = r · (dx̂ − x̂ · mean(dx̂⊙x̂)).
private func rmsNormVJP(_ ctx: VJPContext) throws -> [Value?] {
    let g = ctx.graph, x = ctx.operands[0], ct = ctx.cotangent
    let eps = ctx.attributes.float("eps") ?? 0
    let inv = try g.rsqrt(g.binary(.add, g.reduceMean(g.mul(x, x), axes: [-1], keepDims: true), scalar: eps))
    let xhat = try g.mul(x, inv)
    return try ctx.cotangents { i in
        if i == 1 { return try g.unbroadcast(g.mul(ct, xhat), to: [ctx.shape(0).last ?? 1]) }
        let dxhat = ctx.operands.count > 1 ? try g.mul(ct, ctx.operands[1]) : ct
        let meanDX = try g.reduceMean(g.mul(dxhat, xhat), axes: [-1], keepDims: true)
        return try g.mul(inv, g.sub(dxhat, g.mul(xhat, meanDX)))
    }
}

private func geluVJP(_ ctx: VJPContext) throws -> [Value?] {
    let g = ctx.graph, x = ctx.operands[0], ct = ctx.cotangent
    return try ctx.cotangents { _ in
        let slope: Value
        if ctx.attributes.symbol("approximate") == "tanh" {
            // y = ½x(1 + t), t = tanh(k(x + c·x³)):  y' = ½(1 + t) + ½x(1 − t²)·k(1 + 3c·x²)
            let k = (2 / Double.pi).squareRoot(), c = 0.044715
            let x2 = try g.mul(x, x)
            let t = try g.tanh(g.scaled(g.add(x, g.scaled(g.mul(x2, x), c)), k))
            let inner = try g.scaled(g.binary(.add, g.scaled(x2, 3 * c), scalar: 1), k)
            let tail = try g.mul(g.scaled(x, 0.5), g.mul(g.subtracted(from: 1, g.mul(t, t)), inner))
            slope = try g.add(g.scaled(g.binary(.add, t, scalar: 1), 0.5), tail)
        } else {
            // y = x·Φ(x):  y' = Φ(x) + x·φ(x)
            let cdf = try g.scaled(g.binary(.add, g.unary(.erf, g.scaled(x, 1 / 2.0.squareRoot())), scalar: 1), 0.5)
            let pdf = try g.scaled(g.exp(g.scaled(g.mul(x, x), -0.5)), 1 / (2 * Double.pi).squareRoot())
            slope = try g.add(cdf, g.mul(x, pdf))
        }
        return try g.mul(ct, slope)
    }
}

/// dlogits = g / n · valid ⊙ (softmax(logits) − (1 − ε)·onehot(label) − ε/C), n = max(1, number of valid rows).
private func crossEntropyVJP(_ ctx: VJPContext) throws -> [Value?] {
    let g = ctx.graph, (logits, labels) = (ctx.operands[0], ctx.operands[1])
    let shape = ctx.shape(0), classes = shape.last ?? 1
    let eps = ctx.attributes.float("label_smoothing") ?? 0, ignore = ctx.attributes.int("ignore_index") ?? -100
    return try ctx.cotangents { i in
        guard i == 0 else { return nil }  // labels are integers
        let column = try g.reshape(labels, ctx.shape(1) + [1])
        let onehot = try g.indicator(g.binary(.eq, g.iota(shape, axis: shape.count - 1), column), like: logits)
        let target = eps == 0 ? onehot : try g.binary(.add, g.scaled(onehot, 1 - eps), scalar: eps / Double(classes))
        let valid = try g.indicator(g.binary(.ne, column, scalar: Double(ignore)), like: logits)
        let count = try g.binary(.maximum, g.reduceSum(valid, axes: Array(0..<shape.count)), scalar: 1)
        let weight = try g.mul(valid, g.div(ctx.cotangent, count))
        return try g.mul(g.sub(g.softmax(logits, axis: -1), target), weight)
    }
}

/// Grouped-query bookkeeping for the attention VJPs: tensors indexed by query head are viewed as
/// [B, Hk, G, L, ·] and key/value tensors as [B, Hk, 1, L, ·], so batched matmuls broadcast each key/value
/// head over its G query heads and the key/value cotangents sum over the group axis. With G = 1 nothing changes.
private struct HeadGroups {
    let graph: Graph
    let batch: Int, kvHeads: Int, groups: Int

    init(_ g: Graph, q: Value, k: Value) {
        let (qs, ks) = (g.type(of: q).shape, g.type(of: k).shape)
        graph = g
        batch = qs[0]
        kvHeads = ks[1]
        groups = qs[1] / max(ks[1], 1)
    }

    func queryView(_ x: Value) throws -> Value {
        guard groups > 1 else { return x }
        let s = graph.type(of: x).shape
        return try graph.reshape(x, [batch, kvHeads, groups, s[2], s[3]])
    }

    func keyView(_ x: Value) throws -> Value {
        guard groups > 1 else { return x }
        let s = graph.type(of: x).shape
        return try graph.reshape(x, [batch, kvHeads, 1, s[2], s[3]])
    }

    /// Back from the query view to [B, H, L, ·].
    func queryHeads(_ x: Value) throws -> Value {
        guard groups > 1 else { return x }
        let s = graph.type(of: x).shape
        return try graph.reshape(x, [batch, kvHeads * groups, s[3], s[4]])
    }

    /// Sums a query-view tensor over each group, giving [B, Hk, L, ·].
    func sumGroups(_ x: Value) throws -> Value {
        guard groups > 1 else { return x }
        return try graph.reduceSum(x, axes: [2])
    }
}

/// Cotangents of q, k and the bias from the attention weights P and their cotangent dP (both in the query view):
/// dS = P ⊙ (dP − Σ_j dP⊙P), dq = scale·dS·k, dk = scale·dSᵀ·q, dbias = dS summed to the bias shape.
/// Masked entries and empty rows have P = 0, so they get dS = 0 without consulting the mask.
private func scoresBackward(_ ctx: VJPContext, _ heads: HeadGroups, probs p: Value, cotangent dp: Value,
                            bias biasIndex: Int?) throws -> (q: Value?, k: Value?, bias: Value?) {
    let g = ctx.graph, scale = ctx.attributes.float("scale") ?? 1
    let (q, k) = (ctx.operands[0], ctx.operands[1])
    let ds = try g.mul(p, g.sub(dp, g.sumKeeping(g.mul(dp, p), axis: -1)))
    let dq = ctx.needs[0] ? try heads.queryHeads(g.scaled(g.matmul(ds, heads.keyView(k)), scale)) : nil
    let dk = ctx.needs[1] ? try g.scaled(heads.sumGroups(g.matmul(ds, heads.queryView(q), transposeA: true)), scale) : nil
    var dbias: Value?
    if let biasIndex, ctx.needs[biasIndex] {
        dbias = try g.unbroadcast(heads.queryHeads(ds), to: ctx.shape(biasIndex))
    }
    return (dq, dk, dbias)
}

/// Index of the bias operand, given the index of the first operand after q, k (and v).
private func biasIndex(_ ctx: VJPContext, rest: Int) -> Int? {
    let afterLens = rest + ((ctx.attributes.mask("mask")?.keyPadding ?? false) ? 1 : 0)
    return ctx.operands.count > afterLens ? afterLens : nil
}

/// O = P·v with P = attention_probs(q, k, …): dv = Pᵀ·dO (summed over each group), dP = dO·vᵀ, then
/// `scoresBackward`. P is recomputed by one `attention_probs` op instead of being kept from the forward pass.
private func attentionVJP(_ ctx: VJPContext) throws -> [Value?] {
    let g = ctx.graph, (q, k, v) = (ctx.operands[0], ctx.operands[1], ctx.operands[2])
    guard ctx.needs.contains(true) else { return ctx.needs.map { _ in nil } }
    let heads = HeadGroups(g, q: q, k: k)
    let probs = try g.emit(.attentionProbs, [q, k] + ctx.operands.dropFirst(3), ctx.attributes)
    let p = try heads.queryView(probs), dout = try heads.queryView(ctx.cotangent)
    let bias = biasIndex(ctx, rest: 3)
    var result = [Value?](repeating: nil, count: ctx.operands.count)
    if ctx.needs[2] { result[2] = try heads.sumGroups(g.matmul(p, dout, transposeA: true)) }
    if ctx.needs[0] || ctx.needs[1] || bias.map({ ctx.needs[$0] }) == true {
        let dp = try g.matmul(dout, heads.keyView(v), transposeB: true)
        let d = try scoresBackward(ctx, heads, probs: p, cotangent: dp, bias: bias)
        (result[0], result[1]) = (d.q, d.k)
        if let bias { result[bias] = d.bias }
    }
    return result
}

private func attentionProbsVJP(_ ctx: VJPContext) throws -> [Value?] {
    guard ctx.needs.contains(true) else { return ctx.needs.map { _ in nil } }
    let heads = HeadGroups(ctx.graph, q: ctx.operands[0], k: ctx.operands[1])
    let bias = biasIndex(ctx, rest: 2)
    let d = try scoresBackward(ctx, heads, probs: heads.queryView(ctx.result), cotangent: heads.queryView(ctx.cotangent), bias: bias)
    var result = [Value?](repeating: nil, count: ctx.operands.count)
    (result[0], result[1]) = (d.q, d.k)
    if let bias { result[bias] = d.bias }
    return result
}
