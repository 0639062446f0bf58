import GraphAutodiff
import GraphIR
import Testing

/// Deterministic SplitMix64 numbers for test data.
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) * 0x1p-53
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    mutating func bool() -> Bool { next() & 1 == 1 }
}

/// Builds a small f64 graph whose float operands are trainable parameters with random values.
final class CheckBuilder {
    let g = Graph(name: "check")
    var rng: TestRNG
    var parameters: [String: Tensor] = [:]
    var inputs: [String: Tensor] = [:]

    init(seed: UInt64) { rng = TestRNG(seed: seed) }

    /// A trainable f64 parameter filled by `value` (default uniform in [-1, 1]).
    func param(_ shape: [Int], _ value: ((inout TestRNG) -> Double)? = nil) throws -> Value {
        let name = "p\(parameters.count)"
        let count = shape.reduce(1, *)
        var data: [Double] = []
        for _ in 0..<count { data.append(value?(&rng) ?? rng.uniform()) }
        parameters[name] = Tensor(.f64, shape, data)
        return try g.parameter(name, shape, role: .trainable, .f64)
    }

    /// A parameter whose entries stay at least `margin` away from 0 (for kinks at 0).
    func awayFromZero(_ shape: [Int], margin: Double = 0.2) throws -> Value {
        try param(shape) { r in (r.bool() ? 1 : -1) * r.uniform(margin, 1) }
    }

    func positive(_ shape: [Int]) throws -> Value { try param(shape) { r in r.uniform(0.5, 2) } }

    /// Entries on a grid shifted by `offset`: two such tensors with offsets differing by 0.1 never tie.
    func grid(_ shape: [Int], offset: Double) throws -> Value {
        try param(shape) { r in Double(r.int(-5...5)) * 0.2 + offset }
    }

    /// Pairwise distinct entries (no ties for max).
    func distinct(_ shape: [Int]) throws -> Value {
        let count = shape.reduce(1, *)
        var values = (0..<count).map { Double($0) * 0.13 - 0.5 }
        for i in stride(from: count - 1, to: 0, by: -1) { values.swapAt(i, rng.int(0...i)) }
        var k = 0
        return try param(shape) { _ in
            defer { k += 1 }
            return values[k]
        }
    }

    func constantInts(_ shape: [Int], _ range: ClosedRange<Int>) throws -> Value {
        var data: [Int] = []
        for _ in 0..<shape.reduce(1, *) { data.append(rng.int(range)) }
        return try g.constant(Tensor(ints: data, shape: shape))
    }

    func constantBools(_ shape: [Int]) throws -> Value {
        var data: [Double] = []
        for _ in 0..<shape.reduce(1, *) { data.append(rng.bool() ? 1 : 0) }
        return try g.constant(Tensor(.bool, shape, data))
    }

    /// A random shape of the given rank with sizes in 1...3.
    func shape(rank: Int) -> [Int] {
        var s: [Int] = []
        for _ in 0..<rank { s.append(rng.int(1...3)) }
        return s
    }

    /// A shape that broadcasts against `s`: some leading axes dropped, some sizes set to 1.
    func broadcastPartner(_ s: [Int]) -> [Int] {
        let dropped = rng.int(0...s.count)
        var out: [Int] = []
        for d in s.dropFirst(dropped) { out.append(rng.int(0...2) == 0 ? 1 : d) }
        return out
    }

    /// loss = Σ out ⊙ w with a fixed random w, so every output element carries a different weight.
    @discardableResult
    func loss(_ out: Value) throws -> Value {
        let t = g.type(of: out)
        var w: [Double] = []
        for _ in 0..<t.count { w.append(rng.uniform()) }
        let l = try g.reduceSum(g.mul(out, g.constant(Tensor(.f64, t.shape, w))), axes: Array(0..<t.rank))
        g.output("loss", l)
        return l
    }
}

/// Result of comparing reverse-mode gradients with central differences.
struct GradientCheckResult {
    var maxRelativeError = 0.0
    var worst = ""
    var checked = 0
}

/// Central differences in f64: (L(x + h) − L(x − h)) / 2h per parameter entry, compared with the gradient
/// outputs of the differentiated graph. Relative error = |ad − fd| / max(1, |fd|).
func checkGradients(_ b: CheckBuilder, loss: Value, wrt: [String]? = nil, h: Double = 1e-5) throws -> GradientCheckResult {
    let result = try gradients(of: loss, in: b.g, wrt: wrt)
    let interpreter = Interpreter()
    let analytic = try interpreter.run(result.graph, inputs: b.inputs, parameters: b.parameters)
    var check = GradientCheckResult()
    let names = wrt ?? b.parameters.keys.sorted()
    for name in names {
        guard let value = b.parameters[name], let grad = analytic["grad." + name] else {
            throw GraphError(.evaluate, "no gradient output for \(name)")
        }
        for i in 0..<value.count {
            func lossAt(_ delta: Double) throws -> Double {
                var ps = b.parameters
                var s = value.scalars
                s[i] += delta
                ps[name] = Tensor(value.dtype, value.shape, s)
                return try interpreter.run(b.g, inputs: b.inputs, parameters: ps)["loss"]!.scalar
            }
            let fd = (try lossAt(h) - lossAt(-h)) / (2 * h)
            let err = Swift.abs(grad.scalars[i] - fd) / Swift.max(1, Swift.abs(fd))
            check.checked += 1
            if !(err <= check.maxRelativeError) {
                check.maxRelativeError = err.isNaN ? .infinity : err
                check.worst = "\(name)[\(i)]: autodiff \(grad.scalars[i]), finite difference \(fd)"
            }
        }
    }
    return check
}
