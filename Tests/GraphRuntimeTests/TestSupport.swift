import GraphIR
@testable import GraphRuntime

/// Deterministic test data (SplitMix64).
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * Double(next() >> 11) * 0x1p-53 }
    mutating func int(_ r: Range<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
}

/// Builds a test graph and its input data together.
final class CaseBuilder {
    let g = Graph(name: "case")
    var inputs: [String: Tensor] = [:]
    var rng: TestRNG

    init(seed: UInt64) { rng = TestRNG(seed) }

    func x(_ shape: [Int], _ dtype: DType = .f32, _ lo: Double = -2, _ hi: Double = 2) throws -> Value {
        let name = "x\(inputs.count)"
        let n = shape.reduce(1, *)
        let values: [Double]
        switch dtype {
        case .bool: values = (0..<n).map { _ in Double(rng.int(0..<2)) }
        case .i32: values = (0..<n).map { _ in Double(rng.int(Int(lo)..<Int(hi))) }
        default: values = (0..<n).map { _ in rng.uniform(lo, hi) }
        }
        inputs[name] = Tensor(dtype, shape, values)
        return try g.input(name, shape, dtype)
    }

    func ints(_ shape: [Int], _ range: Range<Int>) throws -> Value { try x(shape, .i32, Double(range.lowerBound), Double(range.upperBound)) }
}

/// Absolute plus relative tolerance.
struct Tolerance: CustomStringConvertible {
    var atol: Double
    var rtol: Double
    static let exact = Tolerance(atol: 0, rtol: 0)
    var description: String { "atol \(atol), rtol \(rtol)" }
}

/// The first element where `got` and `want` differ by more than the tolerance, or nil.
func mismatch(_ got: Tensor, _ want: Tensor, _ tol: Tolerance) -> String? {
    guard got.type == want.type else { return "type \(got.type) vs \(want.type)" }
    for i in 0..<got.count {
        let (a, b) = (got.scalars[i], want.scalars[i])
        if a.isNaN && b.isNaN { continue }
        if a == b { continue }
        if !(Swift.abs(a - b) <= tol.atol + tol.rtol * Swift.abs(b)) {
            return "element \(i): executor \(a), interpreter \(b) (\(tol))"
        }
    }
    return nil
}

/// Runs a graph on the interpreter and the executor (with and without threads, in place on and off), and
/// returns a description of every disagreement.
func compareWithInterpreter(_ g: Graph, inputs: [String: Tensor], tolerance: Tolerance, seed: Int = 7,
                            threads: [Int] = [1, 2]) throws -> [String] {
    let params = g.initialParameters(seed: seed)
    let want = try Interpreter().run(g, inputs: inputs, parameters: params)
    var problems: [String] = []
    for t in threads {
        for inPlace in [true, false] where t == threads.first || inPlace {
            let store = ParameterStore()
            try store.load(params)
            let e = try Executable(g, parameters: store, options: RuntimeOptions(threads: t, inPlace: inPlace))
            try e.program.plan.check()
            let out = try e.run(inputs)
            for (name, w) in want {
                let got: Tensor
                if name.hasPrefix("update:") {
                    got = store.tensor(String(name.dropFirst(7)))!
                } else {
                    got = try out.tensor(name)
                }
                if let m = mismatch(got, w, tolerance) { problems.append("\(name) [threads \(t), inPlace \(inPlace)]: \(m)") }
            }
        }
    }
    return problems
}
