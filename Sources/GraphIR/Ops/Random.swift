// Counter-based randomness: every number is a pure function of (seed operand, salt attribute, element index),
// so a step is reproducible from its seed and identical in the interpreter and the executor.

let randomOps: [OpKind: OpSpec] = [
    .randomUniform: OpSpec(
        "random_uniform", arity: 1...1, attributes: [AttrSchema("salt", .int)], fusion: .opaque, declaresType: true,
        inferType: { c in
            let t = try attr(c.declared, "result type")
            try check(c.operands[0].dtype == .i32 && c.operands[0].rank == 0, "seed must be i32[], got \(c.operands[0])")
            try requireFloat(t, "result")
            return t
        },
        evaluate: { a, n in
            let seed = Int(a[0].scalar), salt = n.attributes.int("salt")!
            return Tensor(n.type.dtype, n.type.shape,
                          (0..<n.type.count).map { Double(counterUniform(seed: seed, salt: salt, index: $0)) })
        },
        vjp: .notDifferentiable("sampling"),
        flops: { _, _, _ in 0 }),
    .sampleCategorical: OpSpec(
        "sample_categorical", arity: 2...2, attributes: [AttrSchema("salt", .int)], fusion: .opaque,
        inferType: { c in
            let (logits, seed) = (c.operands[0], c.operands[1])
            try requireFloat(logits, "logits")
            try check(logits.rank >= 1 && logits.shape.last! > 0, "logits need a non-empty last axis")
            try check(seed.dtype == .i32 && seed.rank == 0, "seed must be i32[], got \(seed)")
            return TensorType(.i32, Array(logits.shape.dropLast()))
        },
        evaluate: { a, n in
            // Inverse-CDF sampling from softmax(row): the first j whose cumulative probability exceeds u.
            let x = a[0], seed = Int(a[1].scalar), salt = n.attributes.int("salt")!
            let len = x.shape.last!
            let rows = x.count / len
            var out = [Double](repeating: 0, count: rows)
            for r in 0..<rows {
                let row = x.scalars[(r * len)..<((r + 1) * len)]
                let m = row.max()!
                let e = row.map { libm_exp($0 - m) }
                let total = e.reduce(0, +)
                let u = Double(counterUniform(seed: seed, salt: salt, index: r)) * total
                var acc = 0.0, pick = len - 1
                for (j, p) in e.enumerated() {
                    acc += p
                    if acc > u && p > 0 { pick = j; break }
                }
                out[r] = Double(pick)
            }
            return Tensor(.i32, n.type.shape, out)
        },
        vjp: .notDifferentiable("sampling"),
        flops: { ops, _, _ in ops[0].count * 3 }),
]
