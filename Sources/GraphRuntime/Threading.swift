import CBLAS
import Dispatch
import Foundation

/// The one threading policy of the runtime: GEMMs get OpenBLAS threads, everything else is split into tiles
/// over `DispatchQueue.concurrentPerform`, and the two never run at once (a kernel either calls BLAS with
/// `threads` OpenBLAS threads, or runs tiles that call BLAS with one thread each).
public enum RuntimeThreads {
    /// All cores of this machine; the default thread count of an executable.
    public static var allCores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Sets OpenBLAS's thread count (only the step loop calls this; kernels never run concurrently with it).
    /// The current count is read back from OpenBLAS (a global read), not cached here: code outside the runtime
    /// may change it between steps (a user's own `cblas_sgemm` loop with `openblas_set_num_threads`), and a stale
    /// cache then left OpenBLAS at 2 threads inside tiles that each run on their own thread — 4 threads on 2
    /// cores, which made the per-head q·kᵀ GEMMs 2.6x slower than with 1 thread per tile.
    static func setBLASThreads(_ n: Int) {
        if Int(openblas_get_num_threads()) != n {
            openblas_set_num_threads(Int32(n))
        }
    }
}

/// Runs `body(chunk)` for `chunks` chunks, in parallel when `threads > 1`. Chunk `c` of `n` items covers
/// `chunkRange(c, chunks, n)`.
@inline(__always)
func parallelChunks(_ chunks: Int, threads: Int, _ body: (Int) -> Void) {
    if threads <= 1 || chunks <= 1 {
        for c in 0..<chunks { body(c) }
    } else {
        withoutActuallyEscaping(body) { b in
            let box = UncheckedSendable(b)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in box.value(c) }
        }
    }
}

/// The range of item indices that chunk `c` of `chunks` covers among `n` items.
@inline(__always)
func chunkRange(_ c: Int, _ chunks: Int, _ n: Int) -> Range<Int> {
    let lo = n * c / chunks, hi = n * (c + 1) / chunks
    return lo..<hi
}

/// How many chunks to cut `n` items of about `costPerItem` element-operations into: one chunk per thread, but
/// only when the work is large enough to pay for waking threads.
@inline(__always)
func chunkCount(items n: Int, costPerItem: Int, threads: Int) -> Int {
    let minimumWork = 1 << 15
    if threads <= 1 || n <= 1 || n &* costPerItem < minimumWork { return 1 }
    return Swift.min(threads, n)
}

/// Wraps a value whose thread safety the caller guarantees (disjoint writes per chunk).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
