// Reductions over a set of axes (`axes`, `keep_dims`) and argmax.

func reducedShape(_ shape: [Int], axes: [Int], keepDims: Bool) -> [Int] {
    var out: [Int] = []
    for (d, s) in shape.enumerated() {
        if axes.contains(d) { if keepDims { out.append(1) } } else { out.append(s) }
    }
    return out
}

func normalizedAxes(_ c: InferContext) throws -> [Int] {
    let rank = c.operands[0].rank
    let raw = try attr(c.attributes.ints("axes"), "axes")
    var axes: [Int] = []
    for a in raw {
        guard let n = normalizeAxis(a, rank: rank) else { throw ShapeError("axis \(a) out of range for rank \(rank)") }
        try check(!axes.contains(n), "axis \(a) repeated")
        axes.append(n)
    }
    return axes.sorted()
}

private func reduction(_ name: String, initial: Double, combine: @escaping (Double, Double) -> Double,
                       finish: @escaping (Double, Int) -> Double = { v, _ in v }) -> OpSpec {
    OpSpec(name, arity: 1...1, attributes: [AttrSchema("axes", .ints), AttrSchema("keep_dims", .bool, required: false)],
           fusion: .reduction,
           inferType: { c in
               let axes = try normalizedAxes(c)
               try check(c.operands[0].dtype != .bool, "\(name) is not defined on bool")
               return TensorType(c.operands[0].dtype,
                                 reducedShape(c.operands[0].shape, axes: axes, keepDims: c.attributes.bool("keep_dims") ?? false))
           },
           evaluate: { a, n in
               let x = a[0]
               let rank = x.shape.count
               let axes = n.attributes.ints("axes")!.map { normalizeAxis($0, rank: rank)! }
               let keptShape = reducedShape(x.shape, axes: axes, keepDims: true)
               var acc = [Double](repeating: initial, count: keptShape.reduce(1, *))
               for i in 0..<x.count {
                   var idx = unravel(i, x.shape)
                   for ax in axes { idx[ax] = 0 }
                   let o = ravel(idx, keptShape)
                   acc[o] = combine(acc[o], x.scalars[i])
               }
               let m = axes.reduce(1) { $0 * x.shape[$1] }
               return Tensor(n.type.dtype, n.type.shape, acc.map { finish($0, m) })
           },
           vjp: .missing,
           flops: { ops, _, _ in ops[0].count })
}

let reductionOps: [OpKind: OpSpec] = [
    .reduceSum: reduction("reduce_sum", initial: 0, combine: +),
    .reduceMax: reduction("reduce_max", initial: -.infinity, combine: { Swift.max($0, $1) }),
    .reduceMean: reduction("reduce_mean", initial: 0, combine: +, finish: { $0 / Double($1) }),
    .argmax: OpSpec(
        "argmax", arity: 1...1, attributes: [AttrSchema("axis", .int), AttrSchema("keep_dims", .bool, required: false)],
        fusion: .reduction,
        inferType: { c in
            let x = c.operands[0]
            guard let ax = normalizeAxis(try attr(c.attributes.int("axis"), "axis"), rank: x.rank) else {
                throw ShapeError("axis out of range for rank \(x.rank)")
            }
            try check(x.shape[ax] > 0, "argmax over an empty axis")
            return TensorType(.i32, reducedShape(x.shape, axes: [ax], keepDims: c.attributes.bool("keep_dims") ?? false))
        },
        evaluate: { a, n in
            let x = a[0]
            let ax = normalizeAxis(n.attributes.int("axis")!, rank: x.shape.count)!
            let (outer, len, inner) = splitAround(x.shape, ax)
            var out = [Double](repeating: 0, count: outer * inner)
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = 0
                    for j in 1..<len where x.scalars[(o * len + j) * inner + i] > x.scalars[(o * len + best) * inner + i] {
                        best = j
                    }
                    out[o * inner + i] = Double(best)
                }
            }
            return Tensor(.i32, n.type.shape, out)
        },
        vjp: .notDifferentiable("integer output"),
        flops: { ops, _, _ in ops[0].count }),
]
