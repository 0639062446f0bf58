// SIMD16 polynomial versions of exp, tanh, erf, log and sigmoid for the f32 kernels. glibc's scalar tanhf/erff
// cost 13–17 ns per element (Docs/Performance.md), so hot loops never call libm per element.
// `@inline(__always)` matters: without it these kernels run 25–35% slower.

typealias F16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> F16 {
    UnsafeRawPointer(p).loadUnaligned(as: F16.self)
}

@inline(__always) func store16(_ v: F16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self)
}

/// e^x, Cephes expf polynomial on the reduced argument and 2^n built in the exponent bits.
/// Relative error about 2e-7 for |x| < 87; +inf above 88.72, 0 below -103, NaN propagates.
@inline(__always) func vexp(_ x: F16) -> F16 {
    let clamped = x.clamped(lowerBound: F16(repeating: -87.3), upperBound: F16(repeating: 88.3))
    // t = round(x / ln2) through the 1.5·2^23 magic constant (no float→int conversion needed).
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
    var y = p * scale
    y.replace(with: .infinity, where: x .> 88.72)
    y.replace(with: 0, where: x .< -103)
    y.replace(with: x, where: x .!= x)
    return y
}

/// tanh(x) = sign(x)·(1 − 2/(e^{2|x|}+1)); for |x| < 0.0625 the odd Taylor series avoids cancellation.
@inline(__always) func vtanh(_ x: F16) -> F16 {
    let a = x.replacing(with: -x, where: x .< 0)
    let e = vexp((2 * a).clamped(lowerBound: F16(repeating: 0), upperBound: F16(repeating: 40)))
    var y = 1 - 2 / (e + 1)
    let a2 = a * a
    let small = a * (1 + a2 * (-0.333_333_33 + a2 * (0.133_333_33 + a2 * -0.053_968_25)))
    y.replace(with: small, where: a .< 0.0625)
    y.replace(with: -y, where: x .< 0)
    y.replace(with: x, where: x .!= x)
    return y
}

/// 1/(1+e^{-x}).
@inline(__always) func vsigmoid(_ x: F16) -> F16 {
    1 / (1 + vexp(-x))
}

/// erf(x), Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7); odd-series near 0 for relative accuracy.
@inline(__always) func verf(_ x: F16) -> F16 {
    let a = x.replacing(with: -x, where: x .< 0)
    let t = 1 / (1 + 0.327_591_1 * a)
    var p = F16(repeating: 1.061_405_429)
    p = p * t - 1.453_152_027
    p = p * t + 1.421_413_741
    p = p * t - 0.284_496_736
    p = p * t + 0.254_829_592
    var y = 1 - p * t * vexp(-(a * a))
    let a2 = a * a
    // 2/sqrt(pi)·(x − x³/3 + x⁵/10 − x⁷/42) for |x| < 0.05.
    let small = 1.128_379_17 * a * (1 + a2 * (-0.333_333_33 + a2 * (0.1 - a2 * 0.023_809_52)))
    y.replace(with: small, where: a .< 0.05)
    y.replace(with: -y, where: x .< 0)
    y.replace(with: x, where: x .!= x)
    return y
}

/// Natural log (Cephes logf): mantissa in [sqrt(1/2), sqrt(2)), degree-8 polynomial. x < 0 gives NaN, 0 gives -inf.
@inline(__always) func vlog(_ x: F16) -> F16 {
    let bits = unsafeBitCast(x.clamped(lowerBound: F16(repeating: .leastNormalMagnitude), upperBound: F16(repeating: .greatestFiniteMagnitude)),
                             to: SIMD16<Int32>.self)
    var e = SIMD16<Float>((bits &>> 23) &- 126)
    var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: F16.self)   // in [0.5, 1)
    let lowMantissa = m .< 0.707_106_78
    e.replace(with: e - 1, where: lowMantissa)
    m = m.replacing(with: m + m, where: lowMantissa) - 1
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
    y.replace(with: -.infinity, where: x .== 0)
    y.replace(with: .nan, where: x .< 0)
    y.replace(with: .infinity, where: x .== .infinity)
    y.replace(with: x, where: x .!= x)
    return y
}

/// Horizontal sum and max of a SIMD16 accumulator.
@inline(__always) func hsum(_ v: F16) -> Float { v.sum() }
@inline(__always) func hmax(_ v: F16) -> Float { v.max() }
