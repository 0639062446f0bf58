import Foundation
import GraphIR

// cross_entropy: mean over non-ignored rows of (1-ε)·(lse − x[y]) + ε·(lse − mean(x)), as the op defines it.
// f32 rows use the SIMD log-sum-exp; the sum over rows accumulates in Double.

func crossEntropyKernel(_ c: KernelContext) -> KernelSpec {
    let logits = c.operandTypes[0]
    let classes = logits.shape.last ?? 0
    let rows = c.operandTypes[1].count
    let ignore = c.attributes.int("ignore_index") ?? -100
    let eps = c.attributes.float("label_smoothing") ?? 0
    let d = logits.dtype
    return KernelSpec(d == .f32 ? "simd16 cross_entropy" : "scalar cross_entropy") { io in
        let labels = io.operands[1].assumingMemoryBound(to: Int32.self)
        var total = 0.0, count = 0
        for r in 0..<rows {
            let y = Int(labels[r])
            if y == ignore { continue }
            guard y >= 0 && y < classes else {
                throw RuntimeError(.badData, "label \(y) at row \(r) is out of range [0, \(classes))")
            }
            let lse: Double, rowSumValue: Double
            if d == .f32 {
                let x = UnsafePointer(io.f32(0)) + r &* classes
                lse = Double(logSumExpRow(x, classes))
                rowSumValue = eps == 0 ? 0 : Double(rowSum(x, classes))
            } else {
                let x = io.operands[0].assumingMemoryBound(to: Double.self) + r &* classes
                var m = -Double.infinity, s = 0.0, sum = 0.0
                for j in 0..<classes { m = Swift.max(m, x[j]) }
                for j in 0..<classes { s += Foundation.exp(x[j] - m); sum += x[j] }
                lse = m + Foundation.log(s)
                rowSumValue = sum
            }
            let xy = loadScalar(io.operands[0], d, r &* classes &+ y)
            total += (1 - eps) * (lse - xy) + eps * (lse - rowSumValue / Double(classes))
            count += 1
        }
        storeScalar(io.output, d, 0, count == 0 ? 0 : total / Double(count))
    }
}
