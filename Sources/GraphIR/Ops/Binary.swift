// Elementwise binary ops with numpy broadcasting, comparisons, logical ops and `where`.

private func broadcastType(_ c: InferContext, resultDType: DType? = nil, floatOnly: Bool = false) throws -> TensorType {
    let (a, b) = (c.operands[0], c.operands[1])
    let d = try sameDType([a, b])
    if floatOnly { try requireFloat(a) }
    guard let shape = broadcastShapes(a.shape, b.shape) else {
        throw ShapeError("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    return TensorType(resultDType ?? d, shape)
}

/// `partial(ctx, i)` returns the cotangent of operand `i` at the broadcast result shape; the spec sums it back
/// down to the operand's shape.
private func arith(_ name: String, floatOnly: Bool = false, _ f: @escaping (Double, Double) -> Double,
                   partial: @escaping (VJPContext, Int) throws -> Value) -> OpSpec {
    OpSpec(name, arity: 2...2, fusion: .broadcast,
           inferType: { c in
               let t = try broadcastType(c, floatOnly: floatOnly)
               try check(t.dtype != .bool, "\(name) is not defined on bool")
               return t
           },
           evaluate: { a, n in
               let r = broadcastMap(a, n.type) { f($0[0], $0[1]) }
               // Integer arithmetic wraps to i32 and divides toward zero, as in C.
               return n.type.dtype == .i32 ? Tensor(.i32, r.shape, r.scalars.map { $0.rounded(.towardZero) }) : r
           },
           vjp: .rule { ctx in try ctx.cotangents { i in try ctx.graph.unbroadcast(partial(ctx, i), to: ctx.shape(i)) } })
}

private func compare(_ name: String, _ f: @escaping (Double, Double) -> Bool) -> OpSpec {
    OpSpec(name, arity: 2...2, fusion: .broadcast,
           inferType: { c in try broadcastType(c, resultDType: .bool) },
           evaluate: { a, n in broadcastMap(a, n.type) { f($0[0], $0[1]) ? 1 : 0 } },
           vjp: .notDifferentiable("boolean output"))
}

private func logical(_ name: String, _ f: @escaping (Bool, Bool) -> Bool) -> OpSpec {
    OpSpec(name, arity: 2...2, fusion: .broadcast,
           inferType: { c in
               let t = try broadcastType(c)
               try check(t.dtype == .bool, "\(name) needs bool operands, got \(t.dtype.rawValue)")
               return t
           },
           evaluate: { a, n in broadcastMap(a, n.type) { f($0[0] != 0, $0[1] != 0) ? 1 : 0 } },
           vjp: .notDifferentiable("boolean output"))
}

let binaryOps: [OpKind: OpSpec] = [
    .add: arith("add", +) { c, _ in c.cotangent },
    .sub: arith("sub", -) { c, i in i == 0 ? c.cotangent : try c.graph.neg(c.cotangent) },
    .mul: arith("mul", *) { c, i in try c.graph.mul(c.cotangent, c.operands[1 - i]) },
    .div: arith("div", { $0 / $1 }) { c, i in
        let g = c.graph
        // d(a/b)/db = -y/b
        return i == 0 ? try g.div(c.cotangent, c.operands[1]) : try g.neg(g.div(g.mul(c.cotangent, c.result), c.operands[1]))
    },
    .maximum: arith("maximum", { Swift.max($0, $1) }) { c, i in
        // Ties send the whole cotangent to the first operand.
        let g = c.graph, (a, b) = (c.operands[0], c.operands[1])
        return try g.keepWhere(i == 0 ? g.binary(.ge, a, b) : g.binary(.lt, a, b), c.cotangent)
    },
    .minimum: arith("minimum", { Swift.min($0, $1) }) { c, i in
        let g = c.graph, (a, b) = (c.operands[0], c.operands[1])
        return try g.keepWhere(i == 0 ? g.binary(.le, a, b) : g.binary(.gt, a, b), c.cotangent)
    },
    .pow: arith("pow", floatOnly: true, libm_pow) { c, i in
        // d a^b / da = b · a^(b-1);  d a^b / db = a^b · log(a) (defined for a > 0).
        let g = c.graph, (a, b) = (c.operands[0], c.operands[1])
        if i == 0 { return try g.mul(c.cotangent, g.mul(b, g.binary(.pow, a, g.binary(.sub, b, scalar: 1)))) }
        return try g.mul(c.cotangent, g.mul(c.result, g.log(a)))
    },
    .eq: compare("eq", ==),
    .ne: compare("ne", !=),
    .lt: compare("lt", <),
    .le: compare("le", <=),
    .gt: compare("gt", >),
    .ge: compare("ge", >=),
    .logicalAnd: logical("logical_and") { $0 && $1 },
    .logicalOr: logical("logical_or") { $0 || $1 },
    .where: OpSpec(
        "where", arity: 3...3, fusion: .broadcast,
        inferType: { c in
            let (cond, a, b) = (c.operands[0], c.operands[1], c.operands[2])
            try check(cond.dtype == .bool, "condition must be bool, got \(cond.dtype.rawValue)")
            let d = try sameDType([a, b])
            guard let s1 = broadcastShapes(a.shape, b.shape), let s = broadcastShapes(cond.shape, s1) else {
                throw ShapeError("shapes \(cond.shape), \(a.shape), \(b.shape) do not broadcast")
            }
            return TensorType(d, s)
        },
        evaluate: { a, n in broadcastMap(a, n.type) { $0[0] != 0 ? $0[1] : $0[2] } },
        vjp: .rule { ctx in
            let g = ctx.graph, cond = ctx.operands[0]
            return try ctx.cotangents { i in
                switch i {
                case 1: return try g.unbroadcast(g.keepWhere(cond, ctx.cotangent), to: ctx.shape(1))
                case 2: return try g.unbroadcast(g.keepWhere(g.unary(.logicalNot, cond), ctx.cotangent), to: ctx.shape(2))
                default: return nil  // the condition is boolean
                }
            }
        }),
]
