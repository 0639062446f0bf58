import CBLAS
import GraphIR

// Every BLAS call of the runtime lives in this file.

/// Row-major C = alpha·op(A)·op(B) + beta·C in the element type of the kernel (`sgemm` or `dgemm`).
protocol GEMMScalar: BinaryFloatingPoint {
    static func gemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Self,
                     _ a: UnsafePointer<Self>, _ lda: Int, _ b: UnsafePointer<Self>, _ ldb: Int,
                     _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int)
}

extension Float: GEMMScalar {
    @inline(__always)
    static func gemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                     _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                     _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i &* ldc &+ j] = beta == 0 ? 0 : beta * c[i &* ldc &+ j] } }
            return
        }
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension Double: GEMMScalar {
    @inline(__always)
    static func gemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double,
                     _ a: UnsafePointer<Double>, _ lda: Int, _ b: UnsafePointer<Double>, _ ldb: Int,
                     _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i &* ldc &+ j] = beta == 0 ? 0 : beta * c[i &* ldc &+ j] } }
            return
        }
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// The GEMM calls of one matmul node: either one call over a reshaped view (the batch of A folds into M when
/// B has no batch and A is not transposed), or one strided call per batch element. Transposes are BLAS flags.
struct MatmulPlan {
    let m: Int, n: Int, k: Int
    let ta: Bool, tb: Bool
    /// Element offsets of A, B and C for each call.
    let calls: [(a: Int, b: Int, c: Int)]
    let foldedM: Int

    init(_ at: TensorType, _ bt: TensorType, ta: Bool, tb: Bool) throws {
        let d = try matmulDims(at, bt, transposeA: ta, transposeB: tb)
        (m, n, k, self.ta, self.tb) = (d.m, d.n, d.k, ta, tb)
        let batchCount = d.batch.reduce(1, *)
        let aBatch = Array(at.shape.dropLast(2)), bBatch = Array(bt.shape.dropLast(2))
        let aMat = d.m * d.k, bMat = d.k * d.n, cMat = d.m * d.n
        if !ta && bBatch.reduce(1, *) == 1 && aBatch == d.batch {
            // [batch·M, K] x [K, N]: one GEMM.
            foldedM = batchCount * d.m
            calls = [(0, 0, 0)]
        } else {
            foldedM = d.m
            let aIndex = BroadcastLoop.sourceIndices(batch: d.batch, from: aBatch)
            let bIndex = BroadcastLoop.sourceIndices(batch: d.batch, from: bBatch)
            calls = (0..<batchCount).map { (aIndex[$0] * aMat, bIndex[$0] * bMat, $0 * cMat) }
        }
    }

    func run<T: GEMMScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ c: UnsafeMutablePointer<T>, threads: Int, blasThreaded: Bool) {
        let lda = ta ? m : k, ldb = tb ? k : n
        let mm = foldedM
        if calls.count == 1 || blasThreaded {
            for call in calls { T.gemm(ta, tb, mm, n, k, 1, a + call.a, lda, b + call.b, ldb, 0, c + call.c, n) }
        } else {
            // Many small GEMMs get no second OpenBLAS thread; split the batch over threads instead
            // (OpenBLAS runs single-threaded inside each tile).
            let chunks = Swift.min(threads, calls.count)
            parallelChunks(chunks, threads: threads) { ch in
                for i in chunkRange(ch, chunks, calls.count) {
                    let call = calls[i]
                    T.gemm(ta, tb, mm, n, k, 1, a + call.a, lda, b + call.b, ldb, 0, c + call.c, n)
                }
            }
        }
    }
}

extension BroadcastLoop {
    /// For each flat index of `batch`, the flat index of the broadcast source of shape `from`.
    static func sourceIndices(batch: [Int], from: [Int]) -> [Int] {
        let count = batch.reduce(1, *)
        let off = batch.count - from.count
        let fromStrides = stridesOf(from)
        return (0..<count).map { flat in
            var rem = flat, src = 0
            for d in stride(from: batch.count - 1, through: 0, by: -1) {
                let i = rem % batch[d]
                rem /= batch[d]
                if d >= off && from[d - off] != 1 { src += i * fromStrides[d - off] }
            }
            return src
        }
    }
}

func matmulKernel(_ c: KernelContext) throws -> KernelSpec {
    let plan = try MatmulPlan(c.operandTypes[0], c.operandTypes[1], ta: c.attributes.bool("transpose_a") ?? false,
                              tb: c.attributes.bool("transpose_b") ?? false)
    // A single GEMM, or a batch of GEMMs that OpenBLAS threads itself, uses OpenBLAS's threads; batches of GEMMs
    // that OpenBLAS runs on one thread are tiled over threads. OpenBLAS gives a call a second thread once M·N·K
    // exceeds 65536·4 (interface/gemm.c, GEMM_MULTITHREAD_THRESHOLD 4). Tiling such calls too (the threshold was
    // 2^20) measured 0.68 of a raw per-call loop for 192 q·kᵀ GEMMs of 32×257×64 on a quiet machine (p·v
    // 32×64×257: 1.98) and 1.8–2.1 / 0.67–0.93 under load: a gamble either way, where OpenBLAS's own threads give
    // the raw loop's time.
    let openBLASThreadsEachCall = plan.m * plan.n * plan.k > 65536 * 4
    let blasThreaded = plan.calls.count == 1 || openBLASThreadsEachCall || plan.calls.count < c.threads
    let flags = "\(plan.ta ? "T" : "N")\(plan.tb ? "T" : "N")"
    let shape = "\(plan.foldedM)x\(plan.n)x\(plan.k)" + (plan.calls.count > 1 ? " x\(plan.calls.count)" : "")
    switch c.type.dtype {
    case .f64:
        return KernelSpec("dgemm \(flags) \(shape)", usesBLAS: blasThreaded) { io in
            plan.run(UnsafePointer(io.operands[0].assumingMemoryBound(to: Double.self)),
                     UnsafePointer(io.operands[1].assumingMemoryBound(to: Double.self)),
                     io.output.assumingMemoryBound(to: Double.self), threads: io.threads, blasThreaded: blasThreaded)
        }
    default:
        return KernelSpec("sgemm \(flags) \(shape)", usesBLAS: blasThreaded) { io in
            plan.run(UnsafePointer(io.f32(0)), UnsafePointer(io.f32(1)), io.outF32, threads: io.threads, blasThreaded: blasThreaded)
        }
    }
}
