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
        vjp: .missing,
        flops: { _, r, _ in r.count * 5 }),
    .logSoftmax: OpSpec(
        "log_softmax", arity: 1...1, attributes: [AttrSchema("axis", .int)], fusion: .opaque,
        inferType: axisType,
        evaluate: { a, n in Tensor(n.type.dtype, n.type.shape, mapLanes(a[0], axis: n.attributes.int("axis")!, referenceLogSoftmax)) },
        vjp: .missing,
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
        vjp: .missing,
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
        vjp: .missing,
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
        vjp: .missing,
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
        vjp: .missing,
        flops: { ops, _, _ in ops[0].count * 6 }),
    .attention: OpSpec(
        // softmax(scale · q·kᵀ + bias, masked) · v per batch and head.
        // Operands: q [B, H, Lq, D], k [B, Hk, Lk, D], v [B, Hk, Lk, Dv], then `lens` i32[B] when the mask has
        // padding, then an optional additive bias broadcastable to [B, H, Lq, Lk]. H must be a multiple of Hk
        // (grouped-query attention: head h reads key/value head h / (H / Hk)). A row with no visible key is 0.
        "attention", arity: 3...5, attributes: [AttrSchema("mask", .mask), AttrSchema("scale", .float)], fusion: .opaque,
        inferType: { c in
            let (q, k, v) = (c.operands[0], c.operands[1], c.operands[2])
            _ = try sameDType([q, k, v])
            try requireFloat(q)
            try check(q.rank == 4 && k.rank == 4 && v.rank == 4, "q, k, v must be [B, H, L, D]")
            try check(k.shape[0] == q.shape[0] && v.shape[0] == q.shape[0], "batch sizes differ")
            try check(k.shape[1] == v.shape[1] && k.shape[1] > 0 && q.shape[1] % k.shape[1] == 0,
                      "query heads \(q.shape[1]) must be a multiple of key/value heads \(k.shape[1]) = \(v.shape[1])")
            try check(k.shape[2] == v.shape[2], "keys and values have different lengths")
            try check(q.shape[3] == k.shape[3], "query and key head sizes differ")
            let mask = try attr(c.attributes.mask("mask"), "mask")
            _ = try attr(c.attributes.float("scale"), "scale")
            var next = 3
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
            try check(c.operands.count == next, "attention takes q, k, v\(mask.keyPadding ? ", lens" : "") and an optional bias")
            if case .block(let sizes) = mask.pattern {
                try check(q.shape[2] == k.shape[2] && sizes.reduce(0, +) == q.shape[2] && sizes.allSatisfy { $0 > 0 },
                          "block sizes \(sizes) must partition the sequence of length \(q.shape[2]) (and Lq == Lk)")
            }
            return TensorType(q.dtype, [q.shape[0], q.shape[1], q.shape[2], v.shape[3]])
        },
        evaluate: { a, n in
            let (q, k, v) = (a[0], a[1], a[2])
            let mask = n.attributes.mask("mask")!, scale = n.attributes.float("scale")!
            let (b, h, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
            let (hk, lk, dv) = (k.shape[1], k.shape[2], v.shape[3])
            let lens: Tensor? = mask.keyPadding ? a[3] : nil
            let bias: Tensor? = a.count > (mask.keyPadding ? 4 : 3) ? a.last : nil
            var out = [Double](repeating: 0, count: n.type.count)
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
                        for t in 0..<dv {
                            var acc = 0.0
                            for j in 0..<lk where e[j] != 0 { acc += e[j] * v.scalars[((bi * hk + kh) * lk + j) * dv + t] }
                            out[((bi * h + hi) * lq + i) * dv + t] = acc / z
                        }
                    }
                }
            }
            return Tensor(n.type.dtype, n.type.shape, out)
        },
        vjp: .missing,
        flops: { ops, _, _ in
            let (q, k, v) = (ops[0], ops[1], ops[2])
            return 2 * q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2] * (q.shape[3] + v.shape[3]) + 5 * q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2]
        }),
]
