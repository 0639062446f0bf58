import CRuntimeKernels
import Foundation
import Testing

/// The f32 vector math of CRuntimeKernels (kernels_body.h) against libm in Double over a dense sweep, for every
/// instruction-set copy this CPU can run (AVX-512, AVX2+FMA, baseline SSE2).
///
/// Measured on 2026-11-29 with this sweep (AMD EPYC with AVX-512; the AVX2 copy gives the AVX-512 numbers, the SSE2
/// copy, without FMA, is in brackets where it differs):
///
/// | function | range | max abs(error) / max(1, abs(x)) | max relative error | relative error over |
/// |---|---|---|---|---|
/// | exp | [−87.3, 88.7] | — | 8.5e-8 (1.1e-7) | the whole range |
/// | tanh | [−12, 12] | 8.0e-8 | 2.1e-7 (2.0e-7) | tanh(x) ≠ 0 |
/// | erf | [−6, 6] | 9.3e-8 (9.8e-8) | 2.1e-7 (2.2e-7) | erf(x) ≠ 0 |
/// | sigmoid | [−90, 90] | 6.6e-8 (7.6e-8) | 1.5e-7 (1.6e-7) | the whole range |
/// | gelu (erf) | [−12, 12] | 1.06e-7 (1.09e-7) | 5.0e-5 (5.1e-5) | abs(gelu) ≥ 1e-6 |
/// | gelu (tanh) | [−12, 12] | 1.18e-7 | 1.3e-6 (1.6e-6) | abs(gelu) ≥ 1e-6 |
///
/// The bounds below are these figures with some margin. The previous polynomials (Cephes exp, A&S 7.1.26 erf,
/// tanh = 1 − 2/(e^{2x}+1)) measured, AVX-512: erf 5.2e-7 abs (relative error 0.24 near 0), tanh relative error
/// 1.6 near 0, gelu relative error 0.07 where abs(gelu) ≥ 1e-6, and exp overflowed to inf above x = 88.38.
@Suite struct VectorMathAccuracyTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String, function: rk_function, range: ClosedRange<Double>
        let reference: @Sendable (Double) -> Double
        /// Bound on |y − f| / max(1, |x|) (nil: not checked), on |y − f| / |f| where |f| ≥ `relativeFloor`.
        let scaledAbsoluteBound: Double?, relativeBound: Double, relativeFloor: Double
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "exp", function: RK_EXP, range: -87.3...88.7, reference: { Foundation.exp($0) },
             scaledAbsoluteBound: nil, relativeBound: 1.5e-7, relativeFloor: 0),
        Case(name: "tanh", function: RK_TANH, range: -12...12, reference: { Foundation.tanh($0) },
             scaledAbsoluteBound: 1.5e-7, relativeBound: 3e-7, relativeFloor: 0),
        Case(name: "erf", function: RK_ERF, range: -6...6, reference: { Foundation.erf($0) },
             scaledAbsoluteBound: 1.5e-7, relativeBound: 3e-7, relativeFloor: 0),
        Case(name: "sigmoid", function: RK_SIGMOID, range: -90...90, reference: { 1 / (1 + Foundation.exp(-$0)) },
             scaledAbsoluteBound: 1.5e-7, relativeBound: 2.5e-7, relativeFloor: 0),
        Case(name: "gelu", function: RK_GELU, range: -12...12, reference: { 0.5 * $0 * Foundation.erfc(-$0 / 2.0.squareRoot()) },
             scaledAbsoluteBound: 1.5e-7, relativeBound: 1e-4, relativeFloor: 1e-6),
        // x·(1 + tanh u)/2 = x / (1 + e^{−2u}); the second form keeps the Double reference accurate in the tail.
        Case(name: "gelu_tanh", function: RK_GELU_TANH, range: -12...12,
             reference: { $0 / (1 + Foundation.exp(-2 * (2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) },
             scaledAbsoluteBound: 1.5e-7, relativeBound: 3e-6, relativeFloor: 1e-6),
    ]

    /// Evenly spaced points over the range, plus ±10^e for e from −30 to −1 in 2000 steps (tiny arguments).
    static func sweep(_ range: ClosedRange<Double>) -> [Float] {
        let n = 1_000_001
        var xs = (0..<n).map { Float(range.lowerBound + (range.upperBound - range.lowerBound) * Double($0) / Double(n - 1)) }
        for i in 0..<2000 {
            let v = Float(Foundation.pow(10, -30 + 29 * Double(i) / 2000))
            xs.append(v)
            xs.append(-v)
        }
        return xs
    }

    @Test(arguments: cases)
    func matchesLibmOverADenseSweep(_ c: Case) {
        let xs = Self.sweep(c.range)
        var ys = [Float](repeating: .nan, count: xs.count)
        for isa in 0...rk_isa() {
            let used = xs.withUnsafeBufferPointer { x in
                ys.withUnsafeMutableBufferPointer { y in
                    rk_map_with_isa(isa, Int32(c.function.rawValue), x.baseAddress, y.baseAddress, x.count)
                }
            }
            #expect(used == isa)
            var (scaled, relative) = (0.0, 0.0)
            var (worstScaledX, worstRelativeX) = (Float.nan, Float.nan)
            for (x, y) in zip(xs, ys) {
                let f = c.reference(Double(x))
                let e = abs(Double(y) - f)
                if !(e / max(1, abs(Double(x))) <= scaled) { scaled = e / max(1, abs(Double(x))); worstScaledX = x }
                if abs(f) >= max(c.relativeFloor, 1e-30), !(e / abs(f) <= relative) { relative = e / abs(f); worstRelativeX = x }
            }
            print("\(c.name) isa \(isa): max |error|/max(1,|x|) \(scaled) at x = \(worstScaledX); max relative error \(relative) at x = \(worstRelativeX)")
            if let bound = c.scaledAbsoluteBound {
                #expect(scaled <= bound, "\(c.name) isa \(isa): abs error \(scaled) at x = \(worstScaledX)")
            }
            #expect(relative <= c.relativeBound, "\(c.name) isa \(isa): relative error \(relative) at x = \(worstRelativeX)")
        }
    }

    /// Special values: the same as the reference formulas give (exp saturates, see Docs/Runtime.md).
    @Test func specialValues() {
        let xs: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 100, -100, 1e30, -1e30]
        func run(_ f: rk_function) -> [Float] {
            var ys = [Float](repeating: 0, count: xs.count)
            _ = xs.withUnsafeBufferPointer { x in ys.withUnsafeMutableBufferPointer { y in
                rk_map_with_isa(rk_isa(), Int32(f.rawValue), x.baseAddress, y.baseAddress, x.count)
            } }
            return ys
        }
        let erf = run(RK_ERF), tanh = run(RK_TANH), gelu = run(RK_GELU), geluTanh = run(RK_GELU_TANH), exp = run(RK_EXP)
        #expect(Array(erf[0..<4]) == [0, 0, 1, -1] && erf[1].sign == .minus && erf[4].isNaN)
        #expect(Array(erf[5...]) == [1, -1, 1, -1])
        #expect(Array(tanh[0..<4]) == [0, 0, 1, -1] && tanh[1].sign == .minus && tanh[4].isNaN)
        #expect(Array(tanh[5...]) == [1, -1, 1, -1])
        for g in [gelu, geluTanh] {
            // gelu(+inf) = inf, gelu(−inf) = −inf·0 = NaN as in 0.5·x·(1 + erf(x/√2)); far tails are x and −0.
            #expect(g[0] == 0 && g[1] == 0 && g[2] == .infinity && g[3].isNaN && g[4].isNaN)
            #expect(g[5] == 100 && g[6] == 0 && g[7] == 1e30 && g[8] == 0)
        }
        #expect(exp[0] == 1 && exp[4].isNaN && exp[2].isFinite && exp[2] > 3e38 && exp[3] > 0 && exp[3] < 2e-38)
    }
}
