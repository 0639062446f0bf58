// GraphBench: the runtime's kernels against raw OpenBLAS and a STREAM-triad bandwidth figure, in one run.
// `swift run -c release GraphBench [--quick]`. Prints one JSON line per measurement (best of N timed runs).
import CBLAS
import Dispatch
import Foundation
import GraphIR
import GraphRuntime

let quick = CommandLine.arguments.contains("--quick")
/// `GraphBench [gemm] [attention] [memory] [fused] [passes] [training]` runs only those groups (all by default).
let groups = Set(CommandLine.arguments.dropFirst().enumerated().filter { i, a in
    !a.hasPrefix("--") && (i == 0 || CommandLine.arguments[i] != "--match")
}.map(\.1))
func wanted(_ group: String) -> Bool { groups.isEmpty || groups.contains(group) }
let threads = RuntimeThreads.allCores
let repeats = quick ? 3 : 9

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// CPU time of the whole process (all threads), in seconds: on a shared, loaded machine this shows the work a
/// kernel did independently of how long it waited for a core.
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6
}

func loadAverage() -> Double {
    var l = [Double](repeating: 0, count: 3)
    return getloadavg(&l, 3) > 0 ? l[0] : -1
}

/// Best wall time of at least `repeats` runs of `body` (after one warm-up run), in seconds; short bodies run
/// more often (up to 200 runs or 2 s) so a quiet time slice is likely among them on a shared machine.
func best(_ body: () throws -> Void) rethrows -> Double {
    try body()
    var t = Double.infinity
    let start = now()
    var runs = 0
    while runs < repeats || (runs < 200 && Double(now() - start) < 2e9) {
        runs += 1
        let s = now()
        try body()
        t = min(t, Double(now() - s) * 1e-9)
    }
    return t
}

func emit(_ fields: [(String, Any)]) {
    let body = fields.map { k, v -> String in
        switch v {
        case let s as String: return "\"\(k)\": \"\(s)\""
        case let d as Double: return "\"\(k)\": \(String(format: "%.4g", d))"
        default: return "\"\(k)\": \(v)"
        }
    }
    print("{" + body.joined(separator: ", ") + "}")
}

func randomFloats(_ n: Int, seed: Int) -> [Float] { (0..<n).map { counterUniform(seed: seed, salt: 1, index: $0) * 2 - 1 } }

let config = String(cString: openblas_get_config())
emit([("measurement", "environment"), ("threads", threads), ("openblas", config), ("load_average_1min", loadAverage()),
      ("openblas_coretype", ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "default")])

// MARK: GEMMs on BLIP-2 shapes: the executor's matmul (a one-node program) against one raw cblas_sgemm call.

/// (label, M, N, K, transposeB): x[M,K] · W[N,K]ᵀ as `Linear` does.
let tokens = 512
let gemmShapes: [(String, Int, Int, Int)] = [
    ("tokens x 768 x 768 (Q-Former projection)", tokens, 768, 768),
    ("tokens x 768 x 3072 (FFN up)", tokens, 3072, 768),
    ("tokens x 3072 x 768 (FFN down)", tokens, 768, 3072),
    ("257 x 1408 -> 768 (cross-attention K/V projection)", 257, 768, 1408),
    ("16 x 257 x 1408 -> 768 (batched K/V projection)", 16 * 257, 768, 1408),
]
for (label, m, n, k) in gemmShapes where wanted("gemm") {
    let g = Graph(name: "gemm")
    let x = try g.parameter("x", [m, k])
    let w = try g.parameter("w", [n, k])
    g.output("y", try g.matmul(x, w, transposeB: true))
    let store = ParameterStore()
    try store.set("x", floats: randomFloats(m * k, seed: 1), shape: [m, k])
    try store.set("w", floats: randomFloats(n * k, seed: 2), shape: [n, k])
    let e = try Executable(g, parameters: store)
    let a = randomFloats(m * k, seed: 1), b = randomFloats(n * k, seed: 2)
    var c = [Float](repeating: 0, count: m * n)
    let (ours, raw) = try bestOfPairs(repeats, { try e.run([:]) }, {
        openblas_set_num_threads(Int32(threads))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(k), 0, &c, Int32(n))
    })
    let flop = 2.0 * Double(m * n * k)
    emit([("measurement", "gemm"), ("shape", label), ("m", m), ("n", n), ("k", k), ("ours_ms", ours * 1e3), ("raw_ms", raw * 1e3),
          ("ours_gflops", flop / ours * 1e-9), ("raw_gflops", flop / raw * 1e-9), ("ratio_to_raw", raw / ours)])
}

// Per-head attention matmuls: 16 images × 12 heads, 32 queries × 257 image tokens × 64 (cross-attention), and
// text self-attention 32 × 32 × 64, as one batched matmul node against a loop of raw per-head sgemm calls.
let headShapes: [(String, Int, Int, Int, Int, Bool)] = [
    ("q·kᵀ per head: 192 x (32 x 257 x 64)", 192, 32, 257, 64, true),
    ("p·v per head: 192 x (32 x 64 x 257)", 192, 32, 64, 257, false),
    ("q·kᵀ per head: 192 x (32 x 32 x 64)", 192, 32, 32, 64, true),
]
for (label, batch, m, n, k, transB) in headShapes where wanted("gemm") {
    let g = Graph(name: "heads")
    let a = try g.parameter("a", [batch, m, k])
    let b = try g.parameter("b", transB ? [batch, n, k] : [batch, k, n])
    g.output("y", try g.matmul(a, b, transposeB: transB))
    let store = ParameterStore()
    try store.set("a", floats: randomFloats(batch * m * k, seed: 3), shape: [batch, m, k])
    try store.set("b", floats: randomFloats(batch * n * k, seed: 4), shape: transB ? [batch, n, k] : [batch, k, n])
    let e = try Executable(g, parameters: store)
    let pa = randomFloats(batch * m * k, seed: 3), pb = randomFloats(batch * n * k, seed: 4)
    var pc = [Float](repeating: 0, count: batch * m * n)
    let (ours, raw) = try bestOfPairs(repeats, { try e.run([:]) }, {
        openblas_set_num_threads(Int32(threads))
        pa.withUnsafeBufferPointer { a in pb.withUnsafeBufferPointer { b in pc.withUnsafeMutableBufferPointer { c in
            for i in 0..<batch {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                            a.baseAddress! + i * m * k, Int32(k), b.baseAddress! + i * n * k, Int32(transB ? k : n), 0,
                            c.baseAddress! + i * m * n, Int32(n))
            }
        } } }
    })
    let flop = 2.0 * Double(batch * m * n * k)
    emit([("measurement", "gemm_per_head"), ("shape", label), ("ours_ms", ours * 1e3), ("raw_loop_ms", raw * 1e3),
          ("ours_gflops", flop / ours * 1e-9), ("raw_gflops", flop / raw * 1e-9), ("ratio_to_raw", raw / ours)])
}

// The whole attention op on the same shapes (scores, mask, softmax and P·V per head).
for (label, lq, lk, mask) in [("cross-attention 32 queries x 257 keys", 32, 257, MaskPattern.none),
                              ("causal self-attention 64 x 64", 64, 64, MaskPattern.causal),
                              ("ITC block mask [32, 32]", 64, 64, MaskPattern.block([32, 32]))] where wanted("attention") {
    let (b, h, d) = (16, 12, 64)
    let g = Graph(name: "attention")
    let q = try g.parameter("q", [b, h, lq, d]), k = try g.parameter("k", [b, h, lk, d]), v = try g.parameter("v", [b, h, lk, d])
    g.output("o", try g.attention(q, k, v, mask: mask))
    let store = ParameterStore()
    try store.set("q", floats: randomFloats(b * h * lq * d, seed: 5), shape: [b, h, lq, d])
    try store.set("k", floats: randomFloats(b * h * lk * d, seed: 6), shape: [b, h, lk, d])
    try store.set("v", floats: randomFloats(b * h * lk * d, seed: 7), shape: [b, h, lk, d])
    let e = try Executable(g, parameters: store)
    let t = try best { try e.run([:]) }
    let flop = Double(OpKind.attention.spec.flops(g.nodes[3].operands.map { g.type(of: $0) }, g.type(of: g.outputs[0].value), g.nodes[3].attributes))
    emit([("measurement", "attention"), ("shape", "\(label), B16 H12 D64"), ("ms", t * 1e3), ("gflops_dense_equivalent", flop / t * 1e-9)])
}

// MARK: Bandwidth: STREAM triad (a = b + s·c) with the same thread count, then memory-bound kernels.

struct Pointers: @unchecked Sendable { let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float> }
/// a[i] = b[i] + 3·c[i] with the same SIMD16 loads and stores as the runtime's kernels.
func triad(_ p: Pointers, _ lo: Int, _ hi: Int) {
    var i = lo
    while i &+ 16 <= hi {
        let b = UnsafeRawPointer(p.b + i).loadUnaligned(as: SIMD16<Float>.self)
        let c = UnsafeRawPointer(p.c + i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(p.a + i).storeBytes(of: b + 3 * c, as: SIMD16<Float>.self)
        i &+= 16
    }
    while i < hi { p.a[i] = p.b[i] + 3 * p.c[i]; i &+= 1 }
}
/// One triad figure: the best wall-clock bandwidth of a short burst of runs, and the bandwidth per CPU-second of
/// all threads over 5 further runs (comparable with the kernels' figure of the same kind under load).
struct TriadSample { let gbs: Double, cpuGBs: Double }

/// The STREAM triad over three arrays of `count` floats, measured right before and right after every kernel:
/// quiet, single triads ranged 34.8–60.5 GB/s from run to run while the kernels kept their times, so a ratio
/// against one triad says more about that triad than about the kernel. The ratios use the median of all samples.
final class Triad {
    let count: Int, pointers: Pointers
    var samples: [TriadSample] = []

    init(count: Int) {
        self.count = count
        let a = UnsafeMutablePointer<Float>.allocate(capacity: count), b = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: count)
        for i in 0..<count { a[i] = 0; b[i] = Float(i & 1023); c[i] = 1 }
        pointers = Pointers(a: a, b: b, c: c)
    }

    func runOnce() {
        let (p, n) = (pointers, count)
        DispatchQueue.concurrentPerform(iterations: threads) { t in triad(p, n * t / threads, n * (t + 1) / threads) }
    }

    /// Takes one sample: best of 15 runs after a warm-up (a short burst, not `best`'s up-to-2-second loop, since
    /// 16 samples are taken per run), then 5 runs for the CPU-time figure.
    func measure() -> TriadSample {
        runOnce()
        var t = Double.infinity
        for _ in 0..<(quick ? 5 : 15) {
            let s = now()
            runOnce()
            t = min(t, Double(now() - s) * 1e-9)
        }
        let cpu0 = cpuSeconds()
        for _ in 0..<5 { runOnce() }
        let bytes = 12.0 * Double(count)
        let sample = TriadSample(gbs: bytes / t * 1e-9, cpuGBs: bytes * 5 / (cpuSeconds() - cpu0) * 1e-9)
        samples.append(sample)
        return sample
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// A memory-bound kernel's figures, kept until every triad sample is in.
struct MemoryResult { let label: String, elements: Int, seconds: Double, cpuPerElement: Double, bytesPerElement: Double,
                      triadBefore: TriadSample, triadAfter: TriadSample }
var memoryResults: [MemoryResult] = []

/// Runs a one-node program over parameters (no input copies) between two triad samples and records bytes moved
/// per element and ns/element.
func memoryBound(_ label: String, bytesPerElement: Double, elements: Int, triad: Triad, _ build: (Graph) throws -> Value,
                 _ parameters: [(String, [Int])]) throws {
    let g = Graph(name: label)
    g.output("y", try build(g))
    let store = ParameterStore()
    for (k, (name, shape)) in parameters.enumerated() {
        try store.set(name, floats: randomFloats(shape.reduce(1, *), seed: 10 + k).map { $0 * 3 }, shape: shape)
    }
    let e = try Executable(g, parameters: store)
    let before = triad.measure()
    let t = try best { try e.run([:]) }
    let cpu0 = cpuSeconds()
    for _ in 0..<5 { try e.run([:]) }
    let cpuPerElement = (cpuSeconds() - cpu0) / 5 / Double(elements)
    memoryResults.append(MemoryResult(label: label, elements: elements, seconds: t, cpuPerElement: cpuPerElement,
                                      bytesPerElement: bytesPerElement, triadBefore: before, triadAfter: triad.measure()))
}

/// Emits the triad summary (every sample, median, max) and then each kernel's line with its ratios to the median
/// triad (`ratio_to_triad`, `cpu_ratio_to_triad`) and to the fastest one (`ratio_to_triad_max`).
func emitMemoryResults(_ triad: Triad) {
    let wall = triad.samples.map(\.gbs), cpu = triad.samples.map(\.cpuGBs)
    let (wallMedian, cpuMedian) = (median(wall), median(cpu))
    let (wallMax, cpuMax) = (wall.max() ?? .nan, cpu.max() ?? .nan)
    emit([("measurement", "stream_triad"), ("elements", triad.count), ("threads", threads), ("samples", wall.count),
          ("gb_per_s_median", wallMedian), ("gb_per_s_max", wallMax), ("gb_per_s_min", wall.min() ?? .nan),
          ("gb_per_cpu_s_median", cpuMedian), ("gb_per_cpu_s_max", cpuMax),
          ("gb_per_s_samples", "[" + wall.map { String(format: "%.1f", $0) }.joined(separator: ", ") + "]"),
          ("ratios_use", "median of the samples (max also given)")])
    for r in memoryResults {
        let gbs = r.bytesPerElement * Double(r.elements) / r.seconds * 1e-9
        let cpuGBs = r.bytesPerElement / r.cpuPerElement * 1e-9
        emit([("measurement", "memory_bound"), ("kernel", r.label), ("elements", r.elements),
              ("ns_per_element", r.seconds / Double(r.elements) * 1e9), ("cpu_ns_per_element_all_threads", r.cpuPerElement * 1e9),
              ("gb_per_s", gbs), ("ratio_to_triad", gbs / wallMedian), ("ratio_to_triad_max", gbs / wallMax),
              ("triad_gb_per_s_before", r.triadBefore.gbs), ("triad_gb_per_s_after", r.triadAfter.gbs),
              ("gb_per_cpu_s", cpuGBs), ("cpu_ratio_to_triad", cpuGBs / cpuMedian), ("cpu_ratio_to_triad_max", cpuGBs / cpuMax)])
    }
}

if wanted("memory") {
    let triad = Triad(count: quick ? 1 << 22 : 1 << 24)
    let big = quick ? 1 << 21 : 1 << 23
    try memoryBound("add (a + b)", bytesPerElement: 12, elements: big, triad: triad, { g in
        try g.add(try g.parameter("a", [big]), try g.parameter("b", [big]))
    }, [("a", [big]), ("b", [big])])
    try memoryBound("bias + gelu erf (fused_elementwise) 8192x1024", bytesPerElement: 8, elements: 8192 * 1024, triad: triad, { g in
        try g.emit(.fusedElementwise, [try g.parameter("x", [8192, 1024]), try g.parameter("bias", [1024])], ["expr": .string("gelu(add($0, $1))")])
    }, [("x", [8192, 1024]), ("bias", [1024])])
    try memoryBound("gelu erf 8192x1024", bytesPerElement: 8, elements: 8192 * 1024, triad: triad, { g in
        try g.gelu(try g.parameter("x", [8192, 1024]))
    }, [("x", [8192, 1024])])
    try memoryBound("gelu tanh 8192x1024", bytesPerElement: 8, elements: 8192 * 1024, triad: triad, { g in
        try g.gelu(try g.parameter("x", [8192, 1024]), approximate: true)
    }, [("x", [8192, 1024])])
    try memoryBound("softmax rows 4096x512", bytesPerElement: 8, elements: 4096 * 512, triad: triad, { g in
        try g.softmax(try g.parameter("x", [4096, 512]))
    }, [("x", [4096, 512])])
    try memoryBound("softmax rows 16384x512", bytesPerElement: 8, elements: 16384 * 512, triad: triad, { g in
        try g.softmax(try g.parameter("x", [16384, 512]))
    }, [("x", [16384, 512])])
    try memoryBound("layer_norm rows 4096x768", bytesPerElement: 8, elements: 4096 * 768, triad: triad, { g in
        try g.layerNorm(try g.parameter("x", [4096, 768]), gamma: try g.parameter("g", [768]), beta: try g.parameter("b", [768]), eps: 1e-5)
    }, [("x", [4096, 768]), ("g", [768]), ("b", [768])])
    try memoryBound("layer_norm rows 16384x768", bytesPerElement: 8, elements: 16384 * 768, triad: triad, { g in
        try g.layerNorm(try g.parameter("x", [16384, 768]), gamma: try g.parameter("g", [768]), beta: try g.parameter("b", [768]), eps: 1e-5)
    }, [("x", [16384, 768]), ("g", [768]), ("b", [768])])
    emitMemoryResults(triad)
}

if wanted("fused") {
    try runFusedKernelBenchmark()
}

if wanted("passes") {
    try runPassesBenchmark()
}

if wanted("training") {
    try runTrainingStepBenchmark()
}
