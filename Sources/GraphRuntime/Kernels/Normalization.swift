import CRuntimeKernels
import Foundation
import GraphIR

// softmax, log_softmax, layer_norm, rms_norm. `f32` over the last axis runs as SIMD16 row kernels (a row is
// read whole before it is written, so they may run in place); other axes and `f64` use `Double` lane loops.

/// y = softmax(x) over a row of n (y may be x), in CRuntimeKernels.
@inline(__always) func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    rk_softmax_row(x, y, n)
}

/// log(sum(exp(x - max))) + max over a row.
@inline(__always) func logSumExpRow(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let m = rowMax(x, n)
    if m == -.infinity || m == .infinity || m != m { return m }
    let mv = F16(repeating: m)
    var acc = F16(), i = 0
    while i &+ 16 <= n { acc += vexp(load16(x + i) - mv); i &+= 16 }
    if i < n {
        var t = F16(repeating: -.infinity)
        for j in 0..<(n &- i) { t[j] = x[i &+ j] }
        acc += vexp(t - mv)
    }
    return m + Float(Foundation.log(Double(hsum(acc))))
}

@inline(__always) func logSoftmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let lse = F16(repeating: logSumExpRow(x, n))
    var i = 0
    while i &+ 16 <= n { store16(load16(x + i) - lse, y + i); i &+= 16 }
    while i < n { y[i] = x[i] - lse[0]; i &+= 1 }
}

/// Runs `row(r)` for `rows` rows of `n` elements each, tiled over threads.
@inline(__always) func forRows(_ rows: Int, _ n: Int, threads: Int, cost: Int = 4, _ row: (Int) -> Void) {
    let chunks = chunkCount(items: rows, costPerItem: n &* cost, threads: threads)
    parallelChunks(chunks, threads: threads) { ch in for r in chunkRange(ch, chunks, rows) { row(r) } }
}

func softmaxKernel(_ c: KernelContext) -> KernelSpec {
    let t = c.type
    let ax = normalizeAxis(c.attributes.int("axis") ?? -1, rank: t.rank) ?? 0
    let outer = t.shape[..<ax].reduce(1, *), n = t.shape[ax], inner = t.shape[(ax + 1)...].reduce(1, *)
    let isLog = c.node.op == .logSoftmax
    if t.dtype == .f32 && inner == 1 {
        return KernelSpec(isLog ? "simd16 log_softmax rows" : "\(cKernelISA) softmax rows", inPlace: [0]) { io in
            let (x, y) = (UnsafePointer(io.f32(0)), io.outF32)
            forRows(outer, n, threads: io.threads) { r in
                if isLog { logSoftmaxRow(x + r &* n, y + r &* n, n) } else { softmaxRow(x + r &* n, y + r &* n, n) }
            }
        }
    }
    let d = t.dtype
    return KernelSpec(isLog ? "scalar log_softmax lanes" : "scalar softmax lanes") { io in
        let (x, y) = (io.operands[0], io.output)
        forRows(outer &* inner, n, threads: io.threads, cost: 20) { lane in
            let (o, i) = (lane / inner, lane % inner)
            let at = { (j: Int) in (o &* n &+ j) &* inner &+ i }
            var m = -Double.infinity
            for j in 0..<n { m = Swift.max(m, loadScalar(x, d, at(j))) }
            var s = 0.0
            for j in 0..<n { s += Foundation.exp(loadScalar(x, d, at(j)) - m) }
            let lse = m + Foundation.log(s)
            for j in 0..<n {
                let v = loadScalar(x, d, at(j))
                storeScalar(y, d, at(j), isLog ? v - lse : Foundation.exp(v - m) / s)
            }
        }
    }
}

func normKernel(_ c: KernelContext) -> KernelSpec {
    let t = c.type
    let n = t.shape.last ?? 1
    let rows = n == 0 ? 0 : t.count / n
    let eps = c.attributes.float("eps") ?? 1e-5
    let isRMS = c.node.op == .rmsNorm
    let hasScale = c.operandTypes.count > 1, hasShift = c.operandTypes.count > 2
    if t.dtype == .f32 {
        return KernelSpec(isRMS ? "simd16 rms_norm rows" : "simd16 layer_norm rows", inPlace: [0]) { io in
            let x = UnsafePointer(io.f32(0)), y = io.outF32
            let g: UnsafePointer<Float>? = hasScale ? UnsafePointer(io.f32(1)) : nil
            let b: UnsafePointer<Float>? = hasShift ? UnsafePointer(io.f32(2)) : nil
            forRows(rows, n, threads: io.threads) { r in
                normRow(x + r &* n, y + r &* n, n, g, b, Float(eps), rms: isRMS)
            }
        }
    }
    let d = t.dtype
    return KernelSpec(isRMS ? "scalar rms_norm rows" : "scalar layer_norm rows", inPlace: [0]) { io in
        let x = io.operands[0], y = io.output
        forRows(rows, n, threads: io.threads) { r in
            var mean = 0.0, sq = 0.0
            for j in 0..<n { mean += loadScalar(x, d, r &* n &+ j) }
            mean = isRMS ? 0 : mean / Double(n)
            for j in 0..<n { let v = loadScalar(x, d, r &* n &+ j) - mean; sq += v * v }
            let inv = 1 / (sq / Double(n) + eps).squareRoot()
            for j in 0..<n {
                var v = (loadScalar(x, d, r &* n &+ j) - mean) * inv
                if hasScale { v *= loadScalar(io.operands[1], d, j) }
                if hasShift { v += loadScalar(io.operands[2], d, j) }
                storeScalar(y, d, r &* n &+ j, v)
            }
        }
    }
}

/// One row of layer norm (two-pass mean and variance) or RMS norm, with optional gamma and beta.
@inline(__always)
func normRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
             _ g: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?, _ eps: Float, rms: Bool) {
    let mean: Float = rms ? 0 : rowSum(x, n) / Float(n)
    let mv = F16(repeating: mean)
    var acc = F16(), i = 0
    while i &+ 16 <= n { let v = load16(x + i) - mv; acc += v * v; i &+= 16 }
    var sq = hsum(acc)
    while i < n { let v = x[i] - mean; sq += v * v; i &+= 1 }
    let inv = 1 / (sq / Float(n) + eps).squareRoot()
    let iv = F16(repeating: inv)
    i = 0
    switch (g, b) {
    case let (g?, b?):
        while i &+ 16 <= n { store16((load16(x + i) - mv) * iv * load16(g + i) + load16(b + i), y + i); i &+= 16 }
        while i < n { y[i] = (x[i] - mean) * inv * g[i] + b[i]; i &+= 1 }
    case let (g?, nil):
        while i &+ 16 <= n { store16((load16(x + i) - mv) * iv * load16(g + i), y + i); i &+= 16 }
        while i < n { y[i] = (x[i] - mean) * inv * g[i]; i &+= 1 }
    default:
        while i &+ 16 <= n { store16((load16(x + i) - mv) * iv, y + i); i &+= 16 }
        while i < n { y[i] = (x[i] - mean) * inv; i &+= 1 }
    }
}
