import Foundation
import CRuntimeKernels
import GraphIR

// Counter-based RNG: every number is GraphIR's `counterUniform(seed:salt:index:)`, so the executor draws
// exactly the interpreter's numbers.

func randomUniformKernel(_ c: KernelContext) -> KernelSpec {
    let salt = c.attributes.int("salt") ?? 0
    let t = c.type
    return KernelSpec("counter uniform") { io in
        let seed = Int(io.operands[0].assumingMemoryBound(to: Int32.self)[0])
        if t.dtype == .f32 {
            let y = io.outF32, n = t.count
            let base = counterStreamKey(seed: seed, salt: salt)
            let chunks = chunkCount(items: n, costPerItem: 2, threads: io.threads)
            parallelChunks(chunks, threads: io.threads) { c in
                let r = chunkRange(c, chunks, n)
                rk_counter_uniform(base, UInt64(r.lowerBound), y + r.lowerBound, r.count)
            }
        } else {
            for i in 0..<t.count { storeScalar(io.output, t.dtype, i, Double(counterUniform(seed: seed, salt: salt, index: i))) }
        }
    }
}

/// Inverse-CDF sampling from softmax(row), in Double exactly as the reference, so picks agree bit for bit.
func sampleCategoricalKernel(_ c: KernelContext) -> KernelSpec {
    let salt = c.attributes.int("salt") ?? 0
    let logits = c.operandTypes[0]
    let n = logits.shape.last ?? 1
    let rows = c.type.count
    let d = logits.dtype
    return KernelSpec("scalar categorical sample") { io in
        let seed = Int(io.operands[1].assumingMemoryBound(to: Int32.self)[0])
        let out = io.output.assumingMemoryBound(to: Int32.self)
        for r in 0..<rows {
            var m = -Double.infinity
            for j in 0..<n { m = Swift.max(m, loadScalar(io.operands[0], d, r &* n &+ j)) }
            var total = 0.0
            for j in 0..<n { total += Foundation.exp(loadScalar(io.operands[0], d, r &* n &+ j) - m) }
            let u = Double(counterUniform(seed: seed, salt: salt, index: r)) * total
            var acc = 0.0, pick = n - 1
            for j in 0..<n {
                let p = Foundation.exp(loadScalar(io.operands[0], d, r &* n &+ j) - m)
                acc += p
                if acc > u && p > 0 { pick = j; break }
            }
            out[r] = Int32(pick)
        }
    }
}
