import Foundation
import GraphIR

// Attention, GEMM-based per batch and head: for a tile of query rows, S = scale·Q·Kᵀ over the key window the
// tile can see, then bias, mask, softmax per row, then O = P·V over the same window. Every mask pattern gives
// each query row one contiguous visible key range, so fully masked key blocks (the upper triangle of a causal
// mask, other blocks of a block mask, padding) are never multiplied, and no [B, H, L, L] tensor exists: the
// scores of one query tile of one head are the only scratch.

/// Row primitives the attention kernel needs besides GEMM.
protocol AttentionScalar: GEMMScalar {
    static func softmaxInPlace(_ p: UnsafeMutablePointer<Self>, _ n: Int)
}

extension Float: AttentionScalar {
    @inline(__always) static func softmaxInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) { softmaxRow(p, p, n) }
}

extension Double: AttentionScalar {
    static func softmaxInPlace(_ p: UnsafeMutablePointer<Double>, _ n: Int) {
        var m = -Double.infinity
        for j in 0..<n { m = Swift.max(m, p[j]) }
        var s = 0.0
        for j in 0..<n { p[j] = p[j] == -.infinity ? 0 : Foundation.exp(p[j] - m); s += p[j] }
        for j in 0..<n { p[j] /= s }
    }
}

/// The visible key range [lo, hi) of each query row for a structural mask (before padding).
func visibleKeyRanges(_ pattern: MaskPattern, lq: Int, lk: Int) -> [(lo: Int, hi: Int)] {
    (0..<lq).map { i in
        let p = lk - lq + i
        switch pattern {
        case .none: return (0, lk)
        case .causal: return (0, Swift.max(0, Swift.min(lk, p + 1)))
        case .prefixCausal(let n): return p < n ? (0, Swift.min(n, lk)) : (0, Swift.min(lk, Swift.max(n, p + 1)))
        case .block(let sizes):
            var start = 0
            for s in sizes {
                if p >= start && p < start + s { return (Swift.min(start, lk), Swift.min(start + s, lk)) }
                start += s
            }
            return (0, 0)
        }
    }
}

struct AttentionPlan {
    let b: Int, h: Int, lq: Int, d: Int, hk: Int, lk: Int, dv: Int
    let scale: Double
    let ranges: [(lo: Int, hi: Int)]
    let padding: Bool
    /// Element strides of the bias over (b, h, i, j), 0 where it broadcasts; nil without bias.
    let biasStrides: [Int]?
    let tileRows: Int
    let workers: Int
    /// `attention_probs`: write the masked softmax weights [B, H, Lq, Lk] instead of P·V.
    let probsOnly: Bool

    var scratchElements: Int { tileRows * lk }

    func run<T: AttentionScalar>(_ io: KernelIO, _: T.Type, blasThreaded: Bool) {
        let q = UnsafePointer(io.operands[0].assumingMemoryBound(to: T.self))
        let k = UnsafePointer(io.operands[1].assumingMemoryBound(to: T.self))
        let v = UnsafePointer(io.operands[probsOnly ? 0 : 2].assumingMemoryBound(to: T.self))
        let rest = probsOnly ? 2 : 3
        let lens: UnsafePointer<Int32>? = padding ? UnsafePointer(io.operands[rest].assumingMemoryBound(to: Int32.self)) : nil
        let bias: UnsafePointer<T>? = biasStrides == nil ? nil : UnsafePointer(io.operands[padding ? rest + 1 : rest].assumingMemoryBound(to: T.self))
        let out = io.output.assumingMemoryBound(to: T.self)
        let scratch = (io.scratch ?? io.output).assumingMemoryBound(to: T.self)
        let pairs = b * h
        let chunks = blasThreaded ? 1 : Swift.min(workers, pairs)
        parallelChunks(chunks, threads: io.threads) { ch in
            let s = scratch + ch &* scratchElements
            for pair in chunkRange(ch, chunks, pairs) {
                head(pair, q, k, v, lens, bias, out, s)
            }
        }
    }

    @inline(__always)
    func head<T: AttentionScalar>(_ pair: Int, _ q: UnsafePointer<T>, _ k: UnsafePointer<T>, _ v: UnsafePointer<T>,
                                  _ lens: UnsafePointer<Int32>?, _ bias: UnsafePointer<T>?, _ out: UnsafeMutablePointer<T>,
                                  _ s: UnsafeMutablePointer<T>) {
        let (bi, hd) = (pair / h, pair % h)
        let kh = hd / (h / hk)
        let qBase = q + pair &* lq &* d
        let kBase = k + (bi &* hk &+ kh) &* lk &* d
        let vBase = v + (bi &* hk &+ kh) &* lk &* dv
        let oBase = out + pair &* lq &* dv
        let validKeys = lens.map { Swift.max(0, Swift.min(lk, Int($0[bi]))) } ?? lk
        var i0 = 0
        while i0 < lq {
            let rows = Swift.min(tileRows, lq - i0)
            var wlo = lk, whi = 0
            for i in i0..<(i0 + rows) {
                let (lo, hi) = (ranges[i].lo, Swift.min(ranges[i].hi, validKeys))
                if lo < hi { wlo = Swift.min(wlo, lo); whi = Swift.max(whi, hi) }
            }
            let probs = out + (pair &* lq &+ i0) &* lk
            if wlo >= whi {
                if probsOnly { probs.initialize(repeating: 0, count: rows &* lk) } else { (oBase + i0 &* dv).initialize(repeating: 0, count: rows &* dv) }
                i0 += rows
                continue
            }
            let w = whi - wlo
            // Scores go to scratch (rows × window), or for attention_probs straight into the output rows.
            let tile = probsOnly ? probs + wlo : s, ld = probsOnly ? lk : w
            T.gemm(false, true, rows, w, d, T(scale), qBase + i0 &* d, d, kBase + wlo &* d, d, 0, tile, ld)
            for r in 0..<rows {
                let i = i0 + r
                let row = tile + r &* ld
                if probsOnly {
                    (probs + r &* lk).initialize(repeating: 0, count: wlo)
                    (probs + r &* lk + whi).initialize(repeating: 0, count: lk - whi)
                }
                let (lo, hi) = (ranges[i].lo, Swift.min(ranges[i].hi, validKeys))
                if lo >= hi {
                    row.initialize(repeating: 0, count: w)
                    continue
                }
                if let bias, let bs = biasStrides {
                    let base = bi &* bs[0] &+ hd &* bs[1] &+ i &* bs[2]
                    for j in lo..<hi { row[j &- wlo] += bias[base &+ j &* bs[3]] }
                }
                if lo > wlo { row.initialize(repeating: 0, count: lo - wlo) }
                T.softmaxInPlace(row + (lo - wlo), hi - lo)
                if hi < whi { (row + (hi - wlo)).initialize(repeating: 0, count: whi - hi) }
            }
            if !probsOnly { T.gemm(false, false, rows, dv, w, 1, s, w, vBase + wlo &* dv, dv, 0, oBase + i0 &* dv, dv) }
            i0 += rows
        }
    }
}

func attentionKernel(_ c: KernelContext) throws -> KernelSpec {
    let probsOnly = c.node.op == .attentionProbs
    let (qt, kt) = (c.operandTypes[0], c.operandTypes[1])
    let vt = probsOnly ? kt : c.operandTypes[2]
    guard let mask = c.attributes.mask("mask"), let scale = c.attributes.float("scale") else {
        throw c.unsupported("attention without mask or scale attribute")
    }
    let (b, h, lq, d) = (qt.shape[0], qt.shape[1], qt.shape[2], qt.shape[3])
    let (hk, lk, dv) = (kt.shape[1], kt.shape[2], vt.shape[3])
    var biasStrides: [Int]? = nil
    let biasIndex = (probsOnly ? 2 : 3) + (mask.keyPadding ? 1 : 0)
    if c.operandTypes.count > biasIndex {
        let bs = c.operandTypes[biasIndex].shape
        let own = stridesOf(bs), off = 4 - bs.count
        biasStrides = (0..<4).map { dim in dim < off || bs[dim - off] == 1 ? 0 : own[dim - off] }
    }
    let pairs = b * h
    let blasThreaded = pairs < c.threads
    let workers = blasThreaded ? 1 : c.threads
    let tileRows = Swift.min(lq, 64)
    let plan = AttentionPlan(b: b, h: h, lq: lq, d: d, hk: hk, lk: lk, dv: dv, scale: scale,
                             ranges: visibleKeyRanges(mask.pattern, lq: lq, lk: lk), padding: mask.keyPadding,
                             biasStrides: biasStrides, tileRows: Swift.max(tileRows, 1), workers: workers, probsOnly: probsOnly)
    let dtype = c.type.dtype
    let scratch = probsOnly ? 0 : plan.scratchElements * workers * dtype.byteSize
    return KernelSpec("gemm \(probsOnly ? "attention_probs" : "attention") \(b)x\(h) \(lq)x\(lk)", scratchBytes: scratch, usesBLAS: blasThreaded) { io in
        if dtype == .f64 { plan.run(io, Double.self, blasThreaded: blasThreaded) } else { plan.run(io, Float.self, blasThreaded: blasThreaded) }
    }
}
