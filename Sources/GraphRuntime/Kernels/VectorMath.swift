// SIMD16 polynomial exp and log for the Swift f32 kernels (log, log-sum-exp rows); exp, tanh, erf, sigmoid and
// GELU arrays and softmax rows run in CRuntimeKernels (kernels_body.h: cheaper division-free forms, compiled for the
// CPU's vector instruction set). glibc's scalar tanhf/erff cost 13–17 ns per element, so hot loops never call libm per element.
// `@inline(__always)` matters: without it these kernels run 25–35% slower.

typealias F16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> F16 {
    UnsafeRawPointer(p).loadUnaligned(as: F16.self)
}

@inline(__always) func store16(_ v: F16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self)
}

// Lane-wise min/max/select use a comparison mask and bit operations only. The standard library's
// `pointwiseMin`/`pointwiseMax`, `clamped` and `replacing(with:where:)` compile to per-lane code (a clamp cost
// 32 ns per element), and 16-iteration lane loops vectorize in small functions but were scalarized inside the
// larger GELU kernel (profiled with perf: ~30 ns per element). Masks plus xor/and stay vector code.

typealias Mask16 = SIMDMask<SIMD16<Int32>>

/// Lane-wise `m ? a : b`.
@inline(__always) func vsel(_ m: Mask16, _ a: F16, _ b: F16) -> F16 {
    let mi = unsafeBitCast(m, to: SIMD16<Int32>.self)
    let ai = unsafeBitCast(a, to: SIMD16<Int32>.self), bi = unsafeBitCast(b, to: SIMD16<Int32>.self)
    return unsafeBitCast(bi ^ ((ai ^ bi) & mi), to: F16.self)
}

/// Lane-wise `Swift.max(a, b)` (`b >= a ? b : a`, the reference's NaN behaviour).
@inline(__always) func vmax(_ a: F16, _ b: F16) -> F16 { vsel(b .>= a, b, a) }

/// Lane-wise `Swift.min(a, b)` (`b < a ? b : a`).
@inline(__always) func vmin(_ a: F16, _ b: F16) -> F16 { vsel(b .< a, b, a) }

/// x clamped to [lo, hi]; a NaN lane stays NaN.
@inline(__always) func vclamp(_ x: F16, _ lo: Float, _ hi: Float) -> F16 {
    vmin(vmax(x, F16(repeating: lo)), F16(repeating: hi))
}

/// Lane-wise `c != 0 ? a : b`.
@inline(__always) func vselect(_ c: F16, _ a: F16, _ b: F16) -> F16 { vsel(c .!= 0, a, b) }

@inline(__always) func vabs(_ x: F16) -> F16 {
    unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: F16.self)
}

/// e^x, Cephes expf polynomial on the reduced argument and 2^n built in the exponent bits. Relative error about
/// 2e-7 on [-87.3, 88.7]; outside, the argument is clamped (about 1e-38 below, 3e38 above); NaN propagates.
@inline(__always) func vexp(_ x: F16) -> F16 {
    let clamped = vclamp(x, -87.3, 88.7)
    // n = round(x / ln2) through the 1.5·2^23 magic constant (no float→int conversion needed).
    let magic = F16(repeating: 12_582_912)
    let t = clamped * 1.442_695_04 + magic
    let n = t - magic
    var r = clamped - n * 0.693_359_375
    r = r - n * -2.121_944_40e-4
    var p = F16(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 0.166_666_655
    p = p * r + 0.500_000_01
    p = p * (r * r) + r + 1
    let bits = unsafeBitCast(t, to: SIMD16<UInt32>.self) &- unsafeBitCast(magic, to: SIMD16<UInt32>.self)
    let scale = unsafeBitCast((bits &+ 127) &<< 23, to: F16.self)
    return p * scale
}

/// Natural log (Cephes logf): mantissa in [sqrt(1/2), sqrt(2)), degree-8 polynomial; special values (0, negative,
/// inf, NaN) per lane as libm gives them.
@inline(__always) func vlog(_ x: F16) -> F16 {
    let bits = unsafeBitCast(vclamp(x, .leastNormalMagnitude, .greatestFiniteMagnitude), to: SIMD16<Int32>.self)
    var e = SIMD16<Float>((bits &>> 23) &- 126)
    var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: F16.self)   // in [0.5, 1)
    let low = m .< 0.707_106_78
    e = vsel(low, e - 1, e)
    m = vsel(low, m + m, m) - 1
    let z = m * m
    var p = F16(repeating: 7.037_683_6e-2)
    p = p * m - 1.151_461_0e-1
    p = p * m + 1.167_699_9e-1
    p = p * m - 1.242_014_1e-1
    p = p * m + 1.424_932_3e-1
    p = p * m - 1.666_805_8e-1
    p = p * m + 2.000_071_5e-1
    p = p * m - 2.499_999_4e-1
    p = p * m + 3.333_333_1e-1
    var y = p * m * z + e * -2.121_944_40e-4 - 0.5 * z + m + e * 0.693_359_375
    y = vsel(x .== .infinity, x, y)
    y = vsel(x .< 0, F16(repeating: .nan), y)
    y = vsel(x .== 0, F16(repeating: -.infinity), y)
    return vsel(x .!= x, x, y)
}

/// Horizontal sum and max of a SIMD16 accumulator.
/// (Halving by hand: the standard library's `sum()`/`max()` on SIMD16 were not inlined.)
@inline(__always) func hsum(_ v: F16) -> Float {
    let a = v.lowHalf + v.highHalf, b = a.lowHalf + a.highHalf, c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}
@inline(__always) func hmax(_ v: F16) -> Float {
    var m = v[0]
    for i in 1..<16 where v[i] >= m { m = v[i] }
    return m
}
