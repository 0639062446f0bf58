// Fused kernels made by the `fuse` pass (after autodiff). Each is one kernel in the runtime and has reference
// semantics equal to the chain of ops it replaces, evaluated with the same per-op rounding, so a fused graph gives
// the same interpreter results as the unfused one. The scalar language of `expr` is in FusedExpression.swift.
//
//   fused_elementwise(x...) {expr}                       elementwise map over the broadcast of the operands
//   fused_reduce(x...) {expr, reduce, axes, keep_dims}   reduction of such a map (`reduce` = sum | max | mean)
//   fused_matmul(a, b, x...) {expr, transpose_a, transpose_b}   GEMM whose output pass applies `expr`;
//                                                        `$0` is the product, `$i` (i >= 1) is operand i + 1
//   add_layer_norm(x, r, gamma?, beta?) {eps}            layer_norm(x + r): the residual add inside the norm

/// The float dtype arithmetic in a fused expression is rounded to: the common float dtype of the operands.
/// Expressions without float operands may only compare and select (integer arithmetic is never fused).
private func kernelDType(_ e: FusedExpression, _ operands: [TensorType]) throws -> DType {
    let floats = Set(operands.map(\.dtype).filter(\.isFloat))
    try check(floats.count <= 1, "fused operands mix float dtypes \(floats.map(\.rawValue).sorted())")
    if let d = floats.first { return d }
    try check(!usesArithmetic(e), "expression \(e) does arithmetic without float operands")
    return .f32
}

private func usesArithmetic(_ e: FusedExpression) -> Bool {
    guard case .apply(let f, let args) = e else { return false }
    return !(FusedExpression.booleanOps.contains(f) || f == "where") || args.contains(where: usesArithmetic)
}

private func parsedExpression(_ attributes: Attributes, operandCount: Int) throws -> FusedExpression {
    let e = try FusedExpression.parse(try attr(attributes.string("expr"), "expr"))
    try check(e.maxOperand < operandCount, "expr reads $\(e.maxOperand) but the kernel has \(operandCount) operands")
    return e
}

private func broadcastAll(_ shapes: [[Int]]) throws -> [Int] {
    var s: [Int] = []
    for x in shapes {
        guard let b = broadcastShapes(s, x) else { throw ShapeError("operand shapes \(shapes) do not broadcast") }
        s = b
    }
    return s
}

private func resultDType(_ e: FusedExpression, _ kernel: DType) -> DType { e.isBoolean ? .bool : kernel }

/// Evaluates `e` over the broadcast of `args` into `shape`.
private func mapExpression(_ e: FusedExpression, _ args: [Tensor], shape: [Int], dtype: DType) -> [Double] {
    let count = shape.reduce(1, *)
    var out = [Double](repeating: 0, count: count)
    var xs = [Double](repeating: 0, count: args.count)
    for i in 0..<count {
        let idx = unravel(i, shape)
        for (k, a) in args.enumerated() { xs[k] = a.scalars[broadcastSource(idx, from: a.shape)] }
        out[i] = e.evaluate(xs, dtype: dtype)
    }
    return out
}

private let reduceKinds = ["sum", "max", "mean"]

let fusedOps: [OpKind: OpSpec] = [
    .fusedElementwise: OpSpec(
        "fused_elementwise", arity: 1...Int.max, attributes: [AttrSchema("expr", .string)], fusion: .elementwise,
        inferType: { c in
            let e = try parsedExpression(c.attributes, operandCount: c.operands.count)
            return TensorType(resultDType(e, try kernelDType(e, c.operands)), try broadcastAll(c.operands.map(\.shape)))
        },
        evaluate: { a, n in
            let e = try parsedExpression(n.attributes, operandCount: a.count)
            let d = try kernelDType(e, a.map(\.type))
            return Tensor(n.type.dtype, n.type.shape, mapExpression(e, a, shape: n.type.shape, dtype: d))
        },
        vjp: .notDifferentiable("fusion runs after autodiff"),
        flops: { _, r, at in r.count * ((try? FusedExpression.parse(at.string("expr") ?? ""))?.opCount ?? 1) }),
    .fusedReduce: OpSpec(
        "fused_reduce", arity: 1...Int.max,
        attributes: [AttrSchema("expr", .string), AttrSchema("reduce", .symbol(reduceKinds)), AttrSchema("axes", .ints),
                     AttrSchema("keep_dims", .bool, required: false)],
        fusion: .reduction,
        inferType: { c in
            let e = try parsedExpression(c.attributes, operandCount: c.operands.count)
            let d = try kernelDType(e, c.operands)
            try check(!e.isBoolean, "fused_reduce needs a numeric expression")
            let mapped = try broadcastAll(c.operands.map(\.shape))
            let axes = try normalizedAxes(InferContext(operands: [TensorType(d, mapped)], attributes: c.attributes, declared: nil))
            return TensorType(d, reducedShape(mapped, axes: axes, keepDims: c.attributes.bool("keep_dims") ?? false))
        },
        evaluate: { a, n in
            let e = try parsedExpression(n.attributes, operandCount: a.count)
            let d = try kernelDType(e, a.map(\.type))
            let shape = try broadcastAll(a.map(\.shape))
            let mapped = Tensor(d, shape, mapExpression(e, a, shape: shape, dtype: d))
            let op: OpKind = n.attributes.symbol("reduce") == "max" ? .reduceMax : n.attributes.symbol("reduce") == "mean" ? .reduceMean : .reduceSum
            var inner = n
            inner.op = op
            inner.attributes = n.attributes.filter { $0.key == "axes" || $0.key == "keep_dims" }
            return try op.spec.evaluate([mapped], inner)
        },
        vjp: .notDifferentiable("fusion runs after autodiff"),
        flops: { ops, _, at in
            let shape = (try? broadcastAll(ops.map(\.shape))) ?? []
            return shape.reduce(1, *) * (((try? FusedExpression.parse(at.string("expr") ?? ""))?.opCount ?? 0) + 1)
        }),
    .fusedMatmul: OpSpec(
        "fused_matmul", arity: 2...Int.max,
        attributes: [AttrSchema("expr", .string), AttrSchema("transpose_a", .bool, required: false),
                     AttrSchema("transpose_b", .bool, required: false)],
        fusion: .outElementwiseFusable,
        inferType: { c in
            let product = try OpKind.matmul.spec.inferType(InferContext(
                operands: Array(c.operands.prefix(2)), attributes: c.attributes.filter { $0.key != "expr" }, declared: nil))
            let extras = Array(c.operands.dropFirst(2))
            let e = try parsedExpression(c.attributes, operandCount: extras.count + 1)
            let d = try kernelDType(e, [product] + extras)
            for x in extras {
                try check(broadcastShapes(x.shape, product.shape) == product.shape,
                          "epilogue operand \(x) does not broadcast to the product \(product)")
            }
            return TensorType(resultDType(e, d), product.shape)
        },
        evaluate: { a, n in
            var inner = n
            inner.op = .matmul
            inner.attributes = n.attributes.filter { $0.key != "expr" }
            inner.type = TensorType(a[0].dtype, n.type.shape)
            let product = try OpKind.matmul.spec.evaluate(Array(a.prefix(2)), inner)
            let args = [product] + a.dropFirst(2)
            let e = try parsedExpression(n.attributes, operandCount: args.count)
            return Tensor(n.type.dtype, n.type.shape, mapExpression(e, args, shape: n.type.shape, dtype: product.dtype))
        },
        vjp: .notDifferentiable("fusion runs after autodiff"),
        flops: { ops, r, at in
            var plain = at
            plain["expr"] = nil
            let gemm = OpKind.matmul.spec.flops(Array(ops.prefix(2)), r, plain)
            return gemm + r.count * ((try? FusedExpression.parse(at.string("expr") ?? ""))?.opCount ?? 0)
        }),
    .addLayerNorm: OpSpec(
        "add_layer_norm", arity: 2...4, attributes: [AttrSchema("eps", .float)], fusion: .opaque,
        inferType: { c in
            let (x, r) = (c.operands[0], c.operands[1])
            let d = try sameDType([x, r])
            guard let s = broadcastShapes(x.shape, r.shape) else { throw ShapeError("shapes \(x.shape) and \(r.shape) do not broadcast") }
            return try OpKind.layerNorm.spec.inferType(InferContext(
                operands: [TensorType(d, s)] + c.operands.dropFirst(2), attributes: c.attributes, declared: nil))
        },
        evaluate: { a, n in
            var sumNode = n
            sumNode.op = .add
            sumNode.attributes = [:]
            let sum = try OpKind.add.spec.evaluate(Array(a.prefix(2)), sumNode)
            var norm = n
            norm.op = .layerNorm
            return try OpKind.layerNorm.spec.evaluate([sum] + a.dropFirst(2), norm)
        },
        vjp: .notDifferentiable("fusion runs after autodiff"),
        flops: { _, r, _ in r.count * 9 }),
]
