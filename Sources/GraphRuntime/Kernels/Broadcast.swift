import GraphIR

/// The iteration space of an elementwise op over broadcast operands, reduced to "runs": the output is cut into
/// `runCount` contiguous runs of `runLength` elements; in a run, operand k advances by `innerStride[k]`
/// (1, or 0 when it is broadcast along the innermost dimension). Adjacent dimensions that broadcast alike are
/// merged first, so `[M, N] + [N]` is M runs of N with the bias restarting each run, and same-shape operands are
/// a single run.
struct BroadcastLoop {
    let runLength: Int
    let runCount: Int
    /// Outer dimensions (after merging, innermost excluded) and every operand's element strides on them.
    let outerDims: [Int]
    let outerStrides: [[Int]]
    let innerStride: [Int]

    init(operands: [[Int]], output: [Int]) {
        let rank = output.count
        // Per-operand strides over the output's dimensions (0 where broadcast).
        var strides: [[Int]] = operands.map { shape in
            let off = rank - shape.count
            let own = stridesOf(shape)
            return (0..<rank).map { d in d < off || shape[d - off] == 1 ? 0 : own[d - off] }
        }
        var dims = output
        // Drop size-1 dimensions, then merge neighbours where every operand is contiguous across the seam.
        var keep = (0..<rank).filter { dims[$0] != 1 }
        dims = keep.map { dims[$0] }
        strides = strides.map { s in keep.map { s[$0] } }
        var i = dims.count - 1
        while i > 0 {
            let mergeable = strides.allSatisfy { s in s[i - 1] == s[i] * dims[i] }
            if mergeable {
                dims[i - 1] *= dims[i]
                dims.remove(at: i)
                for k in strides.indices { strides[k].remove(at: i - 1) }
            }
            i -= 1
        }
        keep = []
        if dims.isEmpty {
            runLength = output.reduce(1, *) == 0 ? 0 : 1
            runCount = 1
            outerDims = []
            outerStrides = strides.map { _ in [] }
            innerStride = strides.map { _ in 0 }
        } else {
            runLength = dims.last!
            outerDims = Array(dims.dropLast())
            runCount = outerDims.reduce(1, *)
            outerStrides = strides.map { Array($0.dropLast()) }
            innerStride = strides.map { $0.last! }
        }
    }

    /// Element offset of operand k at the start of run r.
    @inline(__always) func offset(_ k: Int, run r: Int) -> Int {
        var rem = r, off = 0
        var d = outerDims.count - 1
        // Indexing outerStrides[k][d] in place: copying the row out would retain and release it on every call.
        while d >= 0 {
            let n = outerDims[d]
            if d == 0 { return off &+ rem &* outerStrides[k][0] }
            off = off &+ (rem % n) &* outerStrides[k][d]
            rem /= n
            d -= 1
        }
        return off
    }

    /// Calls `body(run, start, length)` for segments covering every run, in parallel when the work is big
    /// enough. A single long run is cut into pieces so same-shape ops also use every thread.
    func forSegments(threads: Int, cost: Int = 1, _ body: (_ run: Int, _ start: Int, _ length: Int) -> Void) {
        if runCount == 1 {
            let chunks = chunkCount(items: runLength, costPerItem: cost, threads: threads)
            parallelChunks(chunks, threads: threads) { c in
                let r = chunkRange(c, chunks, runLength)
                // Keep chunk seams on 16-element boundaries so SIMD loops rarely hit their scalar tails.
                let lo = c == 0 ? 0 : (r.lowerBound / 16) * 16
                let hi = c == chunks - 1 ? runLength : (r.upperBound / 16) * 16
                if hi > lo { body(0, lo, hi - lo) }
            }
        } else {
            let chunks = chunkCount(items: runCount, costPerItem: runLength &* cost, threads: threads)
            parallelChunks(chunks, threads: threads) { c in
                for r in chunkRange(c, chunks, runCount) { body(r, 0, runLength) }
            }
        }
    }
}
