// Leaves: inputs (fed per step), parameters (named, persistent, with a role), constants (literal data).

let leafOps: [OpKind: OpSpec] = [
    .input: OpSpec(
        "input", arity: 0...0, attributes: [AttrSchema("name", .string)], fusion: .leaf, declaresType: true,
        inferType: { c in try attr(c.declared, "result type") },
        evaluate: { _, n in throw GraphError(.evaluate, "input '\(n.name ?? "?")' is fed by the caller") },
        vjp: .notDifferentiable("a leaf: inputs receive no gradient"),
        flops: { _, _, _ in 0 }),
    .parameter: OpSpec(
        "parameter", arity: 0...0,
        attributes: [AttrSchema("name", .string), AttrSchema("role", .symbol(ParameterRole.allCases.map(\.rawValue))),
                     AttrSchema("init", .initializer, required: false)],
        fusion: .leaf, declaresType: true,
        inferType: { c in try attr(c.declared, "result type") },
        evaluate: { _, n in throw GraphError(.evaluate, "parameter '\(n.name ?? "?")' is bound by the caller") },
        vjp: .notDifferentiable("a leaf: its gradient is the accumulated cotangent, read by autodiff"),
        flops: { _, _, _ in 0 }),
    .constant: OpSpec(
        "constant", arity: 0...0, attributes: [AttrSchema("value", .floats)], fusion: .leaf, declaresType: true,
        inferType: { c in
            let t = try attr(c.declared, "result type")
            let v = try attr(c.attributes.floats("value"), "value")
            try check(v.count == 1 || v.count == t.count, "constant has \(v.count) values for \(t)")
            return t
        },
        evaluate: { _, n in
            let v = n.attributes.floats("value")!
            return Tensor(n.type.dtype, n.type.shape, v.count == 1 ? [Double](repeating: v[0], count: n.type.count) : v)
        },
        vjp: .notDifferentiable("a constant"),
        flops: { _, _, _ in 0 }),
]
