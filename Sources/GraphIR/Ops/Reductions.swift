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

/// `derivative(ctx, axes)` returns the input's cotangent (axes normalized and sorted).
private func reduction(_ name: String, initial: Double, combine: @escaping (Double, Double) -> Double,
                       finish: @escaping (Double, Int) -> Double = { v, _ in v },
                       derivative: @escaping (VJPContext, [Int]) throws -> Value) -> OpSpec {
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
           vjp: .rule { ctx in
               let rank = ctx.graph.type(of: ctx.operands[0]).rank
               let axes = (ctx.attributes.ints("axes") ?? []).compactMap { normalizeAxis($0, rank: rank) }.sorted()
               return try ctx.cotangents { _ in try derivative(ctx, axes) }
           },
           flops: { ops, _, _ in ops[0].count })
}

let reductionOps: [OpKind: OpSpec] = [
    .reduceSum: reduction("reduce_sum", initial: 0, combine: +) { c, axes in
        let g = c.graph, shape = c.shape(0)
        return try g.broadcast(g.keepReducedAxes(c.cotangent, inputShape: shape, axes: axes), to: shape)
    },
    .reduceMax: reduction("reduce_max", initial: -.infinity, combine: { Swift.max($0, $1) }) { c, axes in
        // The cotangent goes to the maxima, split evenly between ties (as PyTorch's amax).
        let g = c.graph, x = c.operands[0], shape = c.shape(0)
        let y = try g.keepReducedAxes(c.result, inputShape: shape, axes: axes)
        let hits = try g.indicator(g.binary(.eq, x, y), like: x)
        let count = try g.reduceSum(hits, axes: axes, keepDims: true)
        return try g.mul(g.div(hits, count), g.keepReducedAxes(c.cotangent, inputShape: shape, axes: axes))
    },
    .reduceMean: reduction("reduce_mean", initial: 0, combine: +, finish: { $0 / Double($1) }) { c, axes in
        let g = c.graph, shape = c.shape(0)
        let m = axes.reduce(1) { $0 * shape[$1] }
        return try g.broadcast(g.scaled(g.keepReducedAxes(c.cotangent, inputShape: shape, axes: axes), 1 / Double(max(m, 1))), to: shape)
    },
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
