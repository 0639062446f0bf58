// Elementwise unary ops (same shape in and out), casts and stop_gradient.

/// `derivative(ctx)` returns the operand's cotangent; it is called only when the operand needs one.
private func unary(_ name: String, floatOnly: Bool = true, _ f: @escaping (Double) -> Double, flops: Int = 1,
                   derivative: @escaping (VJPContext) throws -> Value) -> OpSpec {
    OpSpec(name, arity: 1...1, fusion: .elementwise,
           inferType: { c in
               if floatOnly { try requireFloat(c.operands[0]) }
               return c.operands[0]
           },
           evaluate: { a, n in Tensor(n.type.dtype, n.type.shape, a[0].scalars.map(f)) },
           vjp: .rule { ctx in try ctx.cotangents { _ in try derivative(ctx) } },
           flops: { _, r, _ in r.count * flops })
}

let unaryOps: [OpKind: OpSpec] = [
    .neg: unary("neg", floatOnly: false, { -$0 }) { c in try c.graph.neg(c.cotangent) },
    .abs: unary("abs", floatOnly: false, { Swift.abs($0) }) { c in
        // d|x| = sign(x); 0 at 0, as PyTorch.
        let g = c.graph, x = c.operands[0]
        let sign = try g.sub(g.indicator(g.binary(.gt, x, scalar: 0), like: x), g.indicator(g.binary(.lt, x, scalar: 0), like: x))
        return try g.mul(c.cotangent, sign)
    },
    .exp: unary("exp", libm_exp, flops: 4) { c in try c.graph.mul(c.cotangent, c.result) },
    .log: unary("log", libm_log, flops: 4) { c in try c.graph.div(c.cotangent, c.operands[0]) },
    .sqrt: unary("sqrt", { $0.squareRoot() }, flops: 2) { c in
        try c.graph.div(c.cotangent, c.graph.scaled(c.result, 2))
    },
    .rsqrt: unary("rsqrt", { 1 / $0.squareRoot() }, flops: 2) { c in
        // d x^(-1/2) = -1/2 · y³
        let g = c.graph, y = c.result
        return try g.mul(c.cotangent, g.scaled(g.mul(g.mul(y, y), y), -0.5))
    },
    .tanh: unary("tanh", Foundation_tanh, flops: 6) { c in
        let g = c.graph, y = c.result
        return try g.mul(c.cotangent, g.subtracted(from: 1, g.mul(y, y)))
    },
    .erf: unary("erf", Foundation_erf, flops: 6) { c in
        // d erf(x) = 2/sqrt(pi) · exp(-x²)
        let g = c.graph, x = c.operands[0]
        return try g.mul(c.cotangent, g.scaled(g.exp(g.neg(g.mul(x, x))), 2 / Double.pi.squareRoot()))
    },
    .sigmoid: unary("sigmoid", { 1 / (1 + libm_exp(-$0)) }, flops: 5) { c in
        let g = c.graph, y = c.result
        return try g.mul(c.cotangent, g.mul(y, g.subtracted(from: 1, y)))
    },
    .relu: unary("relu", { Swift.max($0, 0) }) { c in
        try c.graph.keepWhere(c.graph.binary(.gt, c.operands[0], scalar: 0), c.cotangent)
    },
    .sin: unary("sin", libm_sin, flops: 6) { c in try c.graph.mul(c.cotangent, c.graph.unary(.cos, c.operands[0])) },
    .cos: unary("cos", libm_cos, flops: 6) { c in
        try c.graph.neg(c.graph.mul(c.cotangent, c.graph.unary(.sin, c.operands[0])))
    },
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
        vjp: .rule { ctx in
            // Between float types the cotangent is cast back; from or to integers nothing flows.
            let from = ctx.graph.type(of: ctx.operands[0]).dtype
            guard from.isFloat, ctx.node.type.dtype.isFloat else { return [nil] }
            return try ctx.cotangents { _ in try ctx.graph.cast(ctx.cotangent, to: from) }
        }),
    .stopGradient: OpSpec(
        "stop_gradient", arity: 1...1, fusion: .elementwise,
        inferType: { c in c.operands[0] },
        evaluate: { a, _ in a[0] },
        vjp: .notDifferentiable("blocks gradients by definition"),
        flops: { _, _, _ in 0 }),
]
