import GraphIR

// reduce_sum / reduce_mean / reduce_max and argmax. When the reduced axes are one contiguous block the input
// is (outer, reduced, inner) and `f32` runs as SIMD loops: inner == 1 reduces rows with SIMD16 accumulators,
// inner > 1 adds whole rows (bias gradients: [M, N] → [N]). Other axis sets and dtypes use a `Double` loop.

func reductionKernel(_ c: KernelContext) throws -> KernelSpec {
    let x = c.operandTypes[0]
    let rank = x.rank
    let axes = (c.attributes.ints("axes") ?? []).compactMap { normalizeAxis($0, rank: rank) }.sorted()
    let op = c.node.op
    let count = c.type.count
    let reducedCount = axes.reduce(1) { $0 * x.shape[$1] }
    let contiguous = axes.isEmpty || axes.last! - axes.first! + 1 == axes.count
    if x.dtype == .f32 && contiguous && !axes.isEmpty {
        let outer = x.shape[..<axes.first!].reduce(1, *), inner = x.shape[(axes.last! + 1)...].reduce(1, *)
        let r = reducedCount
        let isMax = op == .reduceMax
        let scale: Float = op == .reduceMean ? 1 / Float(r) : 1
        return KernelSpec("simd16 \(op.mnemonic)") { io in
            let (src, dst) = (UnsafePointer(io.f32(0)), io.outF32)
            if inner == 1 {
                let chunks = chunkCount(items: outer, costPerItem: r, threads: io.threads)
                parallelChunks(chunks, threads: io.threads) { ch in
                    for o in chunkRange(ch, chunks, outer) {
                        let row = src + o &* r
                        dst[o] = isMax ? rowMax(row, r) : rowSum(row, r) * scale
                    }
                }
            } else {
                let chunks = chunkCount(items: outer, costPerItem: r &* inner, threads: io.threads)
                parallelChunks(chunks, threads: io.threads) { ch in
                    for o in chunkRange(ch, chunks, outer) {
                        let out = dst + o &* inner
                        let base = src + o &* r &* inner
                        for i in 0..<inner { out[i] = isMax ? (r == 0 ? -.infinity : base[i]) : (r == 0 ? 0 : base[i]) }
                        if r > 0 {
                            for j in 1..<Swift.max(r, 1) {
                                let rowp = base + j &* inner
                                if isMax { for i in 0..<inner where rowp[i] >= out[i] { out[i] = rowp[i] } }
                                else { for i in 0..<inner { out[i] += rowp[i] } }
                            }
                        }
                        if scale != 1 { for i in 0..<inner { out[i] *= scale } }
                    }
                }
            }
        }
    }
    // General: accumulate in Double over an index walk of the input.
    let keptShape = (0..<rank).map { axes.contains($0) ? 1 : x.shape[$0] }
    let keptStrides = stridesOf(keptShape)
    let inShape = x.shape
    let (din, dout) = (x.dtype, c.type.dtype)
    return KernelSpec("scalar \(op.mnemonic)", scratchBytes: count * 8 + rank * 8) { io in
        let acc = io.scratch!.assumingMemoryBound(to: Double.self)
        let idx = (io.scratch! + count * 8).assumingMemoryBound(to: Int.self)
        for d in 0..<rank { idx[d] = 0 }
        for i in 0..<count { acc[i] = op == .reduceMax ? -.infinity : 0 }
        for i in 0..<inShape.reduce(1, *) {
            var o = 0
            for d in 0..<rank where !axes.contains(d) { o += idx[d] * keptStrides[d] }
            let v = loadScalar(io.operands[0], din, i)
            acc[o] = op == .reduceMax ? Swift.max(acc[o], v) : acc[o] + v
            var d = rank - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < inShape[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
        for i in 0..<count { storeScalar(io.output, dout, i, op == .reduceMean ? acc[i] / Double(reducedCount) : acc[i]) }
    }
}

@inline(__always) func rowSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = F16(), i = 0
    while i &+ 16 <= n { acc += load16(p + i); i &+= 16 }
    var s = hsum(acc)
    while i < n { s += p[i]; i &+= 1 }
    return s
}

@inline(__always) func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = F16(repeating: -.infinity), i = 0
    while i &+ 16 <= n {
        acc = vmax(acc, load16(p + i))
        i &+= 16
    }
    var m = hmax(acc)
    while i < n { if p[i] >= m { m = p[i] }; i &+= 1 }
    return m
}

func argmaxKernel(_ c: KernelContext) -> KernelSpec {
    let x = c.operandTypes[0]
    let ax = normalizeAxis(c.attributes.int("axis") ?? 0, rank: x.rank) ?? 0
    let outer = x.shape[..<ax].reduce(1, *), len = x.shape[ax], inner = x.shape[(ax + 1)...].reduce(1, *)
    let d = x.dtype
    return KernelSpec("scalar argmax") { io in
        let out = io.output.assumingMemoryBound(to: Int32.self)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                var bestValue = loadScalar(io.operands[0], d, o &* len &* inner &+ i)
                for j in 1..<Swift.max(len, 1) {
                    let v = loadScalar(io.operands[0], d, (o &* len &+ j) &* inner &+ i)
                    if v > bestValue { best = j; bestValue = v }
                }
                out[o &* inner &+ i] = Int32(best)
            }
        }
    }
}
