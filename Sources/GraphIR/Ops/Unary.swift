// Elementwise unary ops (same shape in and out), casts and stop_gradient.

private func unary(_ name: String, floatOnly: Bool = true, _ f: @escaping (Double) -> Double, flops: Int = 1) -> OpSpec {
    OpSpec(name, arity: 1...1, fusion: .elementwise,
           inferType: { c in
               if floatOnly { try requireFloat(c.operands[0]) }
               return c.operands[0]
           },
           evaluate: { a, n in Tensor(n.type.dtype, n.type.shape, a[0].scalars.map(f)) },
           vjp: .missing,
           flops: { _, r, _ in r.count * flops })
}

let unaryOps: [OpKind: OpSpec] = [
    .neg: unary("neg", floatOnly: false, { -$0 }),
    .abs: unary("abs", floatOnly: false, { Swift.abs($0) }),
    .exp: unary("exp", libm_exp, flops: 4),
    .log: unary("log", libm_log, flops: 4),
    .sqrt: unary("sqrt", { $0.squareRoot() }, flops: 2),
    .rsqrt: unary("rsqrt", { 1 / $0.squareRoot() }, flops: 2),
    .tanh: unary("tanh", Foundation_tanh, flops: 6),
    .erf: unary("erf", Foundation_erf, flops: 6),
    .sigmoid: unary("sigmoid", { 1 / (1 + libm_exp(-$0)) }, flops: 5),
    .relu: unary("relu", { Swift.max($0, 0) }),
    .sin: unary("sin", libm_sin, flops: 6),
    .cos: unary("cos", libm_cos, flops: 6),
    .logicalNot: OpSpec(
        "logical_not", arity: 1...1, fusion: .elementwise,
        inferType: { c in
            try check(c.operands[0].dtype == .bool, "logical_not needs bool, got \(c.operands[0].dtype.rawValue)")
            return c.operands[0]
        },
        evaluate: { a, n in Tensor(.bool, n.type.shape, a[0].scalars.map { $0 == 0 ? 1 : 0 }) },
        vjp: .notDifferentiable("boolean output")),
    .cast: OpSpec(
        "cast", arity: 1...1, attributes: [AttrSchema("dtype", .dtype)], fusion: .elementwise,
        inferType: { c in TensorType(try attr(c.attributes.dtype("dtype"), "dtype"), c.operands[0].shape) },
        evaluate: { a, n in a[0].cast(to: n.type.dtype) },
        vjp: .missing),
    .stopGradient: OpSpec(
        "stop_gradient", arity: 1...1, fusion: .elementwise,
        inferType: { c in c.operands[0] },
        evaluate: { a, _ in a[0] },
        vjp: .notDifferentiable("blocks gradients by definition"),
        flops: { _, _, _ in 0 }),
]
