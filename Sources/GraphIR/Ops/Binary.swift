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

private func arith(_ name: String, floatOnly: Bool = false, _ f: @escaping (Double, Double) -> Double) -> OpSpec {
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
           vjp: .missing)
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
    .add: arith("add", +),
    .sub: arith("sub", -),
    .mul: arith("mul", *),
    .div: arith("div") { $0 / $1 },
    .maximum: arith("maximum") { Swift.max($0, $1) },
    .minimum: arith("minimum") { Swift.min($0, $1) },
    .pow: arith("pow", floatOnly: true, libm_pow),
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
        vjp: .missing),
]
