// Batched matrix multiply with transpose flags and broadcasting batch dimensions.
//   a: [..., M, K] (or [..., K, M] with transpose_a), b: [..., K, N] (or [..., N, K] with transpose_b)

/// The (batch shape, M, K, N) of a matmul, or a shape error.
public func matmulDims(_ a: TensorType, _ b: TensorType, transposeA: Bool, transposeB: Bool) throws -> (batch: [Int], m: Int, k: Int, n: Int) {
    try check(a.rank >= 2 && b.rank >= 2, "matmul needs rank >= 2 operands, got \(a.shape) and \(b.shape)")
    let (m, ka) = transposeA ? (a.shape[a.rank - 1], a.shape[a.rank - 2]) : (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (kb, n) = transposeB ? (b.shape[b.rank - 1], b.shape[b.rank - 2]) : (b.shape[b.rank - 2], b.shape[b.rank - 1])
    try check(ka == kb, "contraction sizes differ: \(ka) vs \(kb) (a \(a.shape), b \(b.shape), transpose_a \(transposeA), transpose_b \(transposeB))")
    guard let batch = broadcastShapes(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2))) else {
        throw ShapeError("batch dimensions \(a.shape.dropLast(2)) and \(b.shape.dropLast(2)) do not broadcast")
    }
    return (batch, m, ka, n)
}

let matmulOps: [OpKind: OpSpec] = [
    .matmul: OpSpec(
        "matmul", arity: 2...2,
        attributes: [AttrSchema("transpose_a", .bool, required: false), AttrSchema("transpose_b", .bool, required: false)],
        fusion: .outElementwiseFusable,
        inferType: { c in
            let d = try sameDType(c.operands)
            try requireFloat(c.operands[0])
            let dims = try matmulDims(c.operands[0], c.operands[1], transposeA: c.attributes.bool("transpose_a") ?? false,
                                      transposeB: c.attributes.bool("transpose_b") ?? false)
            return TensorType(d, dims.batch + [dims.m, dims.n])
        },
        evaluate: { args, n in
            let (a, b) = (args[0], args[1])
            let ta = n.attributes.bool("transpose_a") ?? false, tb = n.attributes.bool("transpose_b") ?? false
            let dims = try matmulDims(a.type, b.type, transposeA: ta, transposeB: tb)
            let batchCount = dims.batch.reduce(1, *)
            let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
            var out = [Double](repeating: 0, count: n.type.count)
            let (m, nn, kk) = (dims.m, dims.n, dims.k)
            // Element strides of a[i, k] and b[k, j] under the transpose flags; the sum runs over k in order.
            let (ai, ak) = ta ? (1, m) : (kk, 1), (bk, bj) = tb ? (1, kk) : (nn, 1)
            a.scalars.withUnsafeBufferPointer { av in
                b.scalars.withUnsafeBufferPointer { bv in
                    for bi in 0..<batchCount {
                        let idx = unravel(bi, dims.batch)
                        let ao = broadcastSource(idx, from: aBatch) * a.shape.suffix(2).reduce(1, *)
                        let bo = broadcastSource(idx, from: bBatch) * b.shape.suffix(2).reduce(1, *)
                        for i in 0..<m {
                            for j in 0..<nn {
                                var s = 0.0
                                var p = ao + i * ai, q = bo + j * bj
                                for _ in 0..<kk {
                                    s += av[p] * bv[q]
                                    p += ak
                                    q += bk
                                }
                                out[(bi * m + i) * nn + j] = s
                            }
                        }
                    }
                }
            }
            return Tensor(n.type.dtype, n.type.shape, out)
        },
        vjp: .rule(matmulVJP),
        flops: { ops, r, at in
            guard let d = try? matmulDims(ops[0], ops[1], transposeA: at.bool("transpose_a") ?? false,
                                          transposeB: at.bool("transpose_b") ?? false) else { return 0 }
            return cappedFlops(2 * Double(d.batch.reduce(1, *)) * Double(d.m) * Double(d.n) * Double(d.k))
        }),
]

/// C = op(A)·op(B). With stored operands, for each transpose combination (g = dC):
///   (F,F) dA = g·Bᵀ,   dB = Aᵀ·g        (F,T) dA = g·B,    dB = gᵀ·A
///   (T,F) dA = B·gᵀ,   dB = A·g         (T,T) dA = Bᵀ·gᵀ,  dB = gᵀ·Aᵀ
/// Broadcast batch dimensions are summed back by `unbroadcast`. A rank-2 weight multiplied by a batched
/// activation gets its gradient from one GEMM over the flattened rows instead of a batched product and a sum.
private func matmulVJP(_ ctx: VJPContext) throws -> [Value?] {
    let g = ctx.graph, (a, b) = (ctx.operands[0], ctx.operands[1]), ct = ctx.cotangent
    let ta = ctx.attributes.bool("transpose_a") ?? false, tb = ctx.attributes.bool("transpose_b") ?? false
    return try ctx.cotangents { i in
        if i == 0 {
            let d: Value
            switch (ta, tb) {
            case (false, false): d = try g.matmul(ct, b, transposeB: true)
            case (false, true): d = try g.matmul(ct, b)
            case (true, false): d = try g.matmul(b, ct, transposeB: true)
            case (true, true): d = try g.matmul(b, ct, transposeA: true, transposeB: true)
            }
            return try g.unbroadcast(d, to: ctx.shape(0))
        }
        if !ta, let flat = try flattenedWeightGradient(g, activation: a, cotangent: ct, weightShape: ctx.shape(1), transposed: tb) {
            return flat
        }
        let d: Value
        switch (ta, tb) {
        case (false, false): d = try g.matmul(a, ct, transposeA: true)
        case (false, true): d = try g.matmul(ct, a, transposeA: true)
        case (true, false): d = try g.matmul(a, ct)
        case (true, true): d = try g.matmul(ct, a, transposeA: true, transposeB: true)
        }
        return try g.unbroadcast(d, to: ctx.shape(1))
    }
}

/// dW for `x·W` (or `x·Wᵀ`) where W is rank 2 and x is batched with the same batch shape as the result:
/// the rows of every batch are stacked, so dW = Xᵀ·G (or Gᵀ·X) is a single GEMM. Nil when not applicable.
private func flattenedWeightGradient(_ g: Graph, activation x: Value, cotangent ct: Value, weightShape: [Int],
                                     transposed: Bool) throws -> Value? {
    let xs = g.type(of: x).shape, cs = g.type(of: ct).shape
    guard weightShape.count == 2, xs.count > 2, Array(xs.dropLast(2)) == Array(cs.dropLast(2)) else { return nil }
    let rows = xs.dropLast().reduce(1, *)
    let x2 = try g.reshape(x, [rows, xs[xs.count - 1]])
    let c2 = try g.reshape(ct, [rows, cs[cs.count - 1]])
    return transposed ? try g.matmul(c2, x2, transposeA: true) : try g.matmul(x2, c2, transposeA: true)
}
