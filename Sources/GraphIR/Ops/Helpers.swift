// Shared pieces of the op definitions: shape-rule checks and the index arithmetic of the reference semantics.

func check(_ cond: Bool, _ message: @autoclosure () -> String) throws {
    if !cond { throw ShapeError(message()) }
}

func requireFloat(_ t: TensorType, _ what: String = "operand") throws {
    try check(t.dtype.isFloat, "\(what) must be f32 or f64, got \(t.dtype.rawValue)")
}

func sameDType(_ ts: [TensorType]) throws -> DType {
    let d = ts[0].dtype
    for t in ts.dropFirst() { try check(t.dtype == d, "dtype mismatch: \(ts.map { $0.dtype.rawValue }.joined(separator: " vs "))") }
    return d
}

func attr<T>(_ v: T?, _ name: String) throws -> T {
    guard let v else { throw ShapeError("missing or mistyped attribute '\(name)'") }
    return v
}

/// Multi-index iteration helpers for the reference interpreter (plain loops, obviously correct).
func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
    var idx = [Int](repeating: 0, count: shape.count)
    var r = flat
    for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
        idx[d] = r % shape[d]
        r /= shape[d]
    }
    return idx
}

func ravel(_ idx: [Int], _ shape: [Int]) -> Int {
    var flat = 0
    for d in 0..<shape.count { flat = flat * shape[d] + idx[d] }
    return flat
}

/// The flat index into an operand of shape `from` that output index `outIdx` (of a broadcast shape) reads.
func broadcastSource(_ outIdx: [Int], from: [Int]) -> Int {
    let off = outIdx.count - from.count
    var flat = 0
    for d in 0..<from.count { flat = flat * from[d] + (from[d] == 1 ? 0 : outIdx[d + off]) }
    return flat
}

/// Applies `f` elementwise over the broadcast of all operands. Walks the output in order with an odometer over
/// per-operand strides (0 on broadcast dimensions), so no index array is built per element.
func broadcastMap(_ args: [Tensor], _ out: TensorType, _ f: ([Double]) -> Double) -> Tensor {
    let shape = out.shape, rank = shape.count, count = out.count
    var result = [Double](repeating: 0, count: count)
    guard count > 0 else { return Tensor(out.dtype, shape, result) }
    let data = args.map(\.scalars)
    let strides: [[Int]] = args.map { a in
        let own = stridesOf(a.shape), off = rank - a.shape.count
        return (0..<rank).map { d in d < off || a.shape[d - off] == 1 ? 0 : own[d - off] }
    }
    var xs = [Double](repeating: 0, count: args.count)
    var position = [Int](repeating: 0, count: args.count)
    var index = [Int](repeating: 0, count: rank)
    for i in 0..<count {
        for k in 0..<args.count { xs[k] = data[k][position[k]] }
        result[i] = f(xs)
        var d = rank - 1
        while d >= 0 {
            index[d] += 1
            for k in 0..<args.count { position[k] += strides[k][d] }
            if index[d] < shape[d] { break }
            for k in 0..<args.count { position[k] -= strides[k][d] * shape[d] }
            index[d] = 0
            d -= 1
        }
    }
    return Tensor(out.dtype, shape, result)
}

/// Splits a shape around `axis` into (outer, axis size, inner) counts.
func splitAround(_ shape: [Int], _ axis: Int) -> (outer: Int, n: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
}

/// The (seed, salt) part of `counterUniform`'s key; vector kernels take it once per stream (C `rk_counter_uniform`).
public func counterStreamKey(seed: Int, salt: Int) -> UInt64 {
    (UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(truncatingIfNeeded: salt) &* 0xC2B2_AE3D_27D4_EB4F)
}

/// Counter-based random numbers: a pure function of (seed, salt, index), identical in every executor.
/// SplitMix64 finalizer over the packed key; 24 random bits give a uniform float in [0, 1).
public func counterUniform(seed: Int, salt: Int, index: Int) -> Float {
    var z = counterStreamKey(seed: seed, salt: salt) &+ UInt64(truncatingIfNeeded: index) &* 0x1656_67B1_9E37_79F9
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    z ^= z >> 31
    return Float(z >> 40) * 0x1p-24
}

/// Exact GELU and its tanh approximation (reference forms).
public func geluErf(_ x: Double) -> Double { 0.5 * x * (1 + Foundation_erf(x / 2.0.squareRoot())) }
public func geluTanh(_ x: Double) -> Double {
    0.5 * x * (1 + Foundation_tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
}

/// A FLOP estimate computed in `Double` and capped at 2^53, for ops whose count multiplies independent
/// dimensions (matmul, attention): shapes the parser accepts (each tensor at most 2^53 elements) can otherwise
/// overflow `Int` and trap, and summing capped counts over a graph stays far below `Int.max`.
func cappedFlops(_ estimate: Double) -> Int {
    estimate >= 0x1p53 ? 1 << 53 : Int(estimate)
}
