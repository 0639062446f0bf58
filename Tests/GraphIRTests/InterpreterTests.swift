import Foundation
@testable import GraphIR
import Testing

// Reference-interpreter tests: every op against hand-computed values, in f32 and f64.
// The cases live in one table keyed by op (`InterpreterCases.all`), so `everyOpHasAnInterpreterCase` fails
// as soon as an op is added without a case here.
//
// Tolerances: f64 results must match to 1e-12 (relative to max(1, |expected|)); f32 results to 2e-6, since
// the interpreter rounds every f32 result to Float (relative spacing 6e-8) and f32 inputs are rounded too.

/// One interpreter check: builds a small graph in `dtype` and checks its result.
struct InterpreterCase: CustomTestStringConvertible, Sendable {
    var op: OpKind
    var label: String
    var check: @Sendable (DType) throws -> Void
    var testDescription: String { "\(op.mnemonic): \(label)" }
}

@Suite struct InterpreterTests {
    @Test(arguments: InterpreterCases.all, [DType.f32, .f64])
    func opCase(_ c: InterpreterCase, _ dtype: DType) throws {
        try c.check(dtype)
    }

    @Test func everyOpHasAnInterpreterCase() {
        let covered = Set(InterpreterCases.all.map(\.op))
        for op in OpKind.allCases {
            #expect(covered.contains(op), "op '\(op.mnemonic)' has no interpreter test in InterpreterCases")
        }
    }

    @Test func missingInputIsAnError() throws {
        let g = Graph()
        g.output("x", try g.input("x", [2]))
        #expect(throws: GraphError.self) { try Interpreter().run(g, inputs: [:], parameters: [:]) }
    }

    @Test func inputOfTheWrongTypeIsAnError() throws {
        let g = Graph()
        g.output("x", try g.input("x", [2]))
        #expect(throws: GraphError.self) {
            try Interpreter().run(g, inputs: ["x": Tensor(.f32, [3], repeating: 0)], parameters: [:])
        }
    }

    @Test func outOfRangeIndexIsAnErrorNamingTheOp() throws {
        do {
            _ = try InterpreterCases.evaluate([Tensor(.f32, [2], [1, 2]), Tensor(ints: [5], shape: [1])]) { g, a in try g.gather(a[0], a[1]) }
            Issue.record("expected an error")
        } catch let e as GraphError {
            #expect(e.kind == .evaluate)
            #expect(e.message.contains("gather"))
        }
    }

    @Test func deadNodesAreNotEvaluated() throws {
        // The gather would fail at run time, but nothing reads it.
        let g = Graph()
        let x = try g.input("x", [2])
        _ = try g.gather(x, try g.constant(Tensor(ints: [7], shape: [1])))
        g.output("y", try g.neg(x))
        let out = try Interpreter().run(g, inputs: ["x": Tensor(.f32, [2], [1, 2])], parameters: [:])
        #expect(out["y"]?.scalars == [-1, -2])
    }

    @Test func updatesAreReturnedUnderTheirParameterName() throws {
        let g = Graph()
        let w = try g.parameter("w", [2], role: .trainable)
        g.update("w", try g.binary(.mul, w, scalar: 2))
        let out = try Interpreter().run(g, inputs: [:], parameters: ["w": Tensor(.f32, [2], [1, 3])])
        #expect(out["update:w"]?.scalars == [2, 6])
    }
}

/// The case table and the helpers its cases use (static, so they cannot collide with other test files).
enum InterpreterCases {
    /// Evaluates the value built by `body` over inputs `a0, a1, ...` fed with `inputs`.
    static func evaluate(_ inputs: [Tensor], parameters: [String: Tensor] = [:],
                  _ body: (Graph, [Value]) throws -> Value) throws -> Tensor {
        let g = Graph()
        var feeds: [String: Tensor] = [:]
        var values: [Value] = []
        for (i, t) in inputs.enumerated() {
            feeds["a\(i)"] = t
            values.append(try g.input("a\(i)", t.shape, t.dtype))
        }
        g.output("r", try body(g, values))
        let out = try Interpreter().run(g, inputs: feeds, parameters: parameters)
        guard let r = out["r"] else { throw GraphError(.evaluate, "no result") }
        return r
    }

    /// Tolerance for comparing a result of `dtype` against a hand-computed value.
    static func tolerance(_ dtype: DType) -> Double { dtype == .f64 ? 1e-12 : 2e-6 }

    /// Expects `t` to have `dtype`, `shape` and (within the dtype's tolerance) `expected`.
    static func expectTensor(_ t: Tensor, _ dtype: DType, _ shape: [Int], _ expected: [Double],
                      sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(t.dtype == dtype, "dtype", sourceLocation: sourceLocation)
        #expect(t.shape == shape, "shape", sourceLocation: sourceLocation)
        guard t.count == expected.count else {
            Issue.record("\(t.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
            return
        }
        let tol = tolerance(dtype.isFloat ? dtype : .f64)
        for (i, (x, e)) in zip(t.scalars, expected).enumerated() {
            let ok = x == e || Swift.abs(x - e) <= tol * Swift.max(1, Swift.abs(e))
            #expect(ok, "element \(i): got \(x), expected \(e)", sourceLocation: sourceLocation)
        }
    }

    /// A float tensor in `dtype`.
    static func ft(_ dtype: DType, _ shape: [Int], _ xs: [Double]) -> Tensor { Tensor(dtype, shape, xs) }
    static func it(_ shape: [Int], _ xs: [Int]) -> Tensor { Tensor(ints: xs, shape: shape) }
    static func bt(_ shape: [Int], _ xs: [Bool]) -> Tensor { Tensor(.bool, shape, xs.map { $0 ? 1 : 0 }) }

    static let all: [InterpreterCase] = leaves + unary + binary + reductions + shapes + matmul + random + compound + attention + fused

    // MARK: leaves

    static let leaves: [InterpreterCase] = [
        InterpreterCase(op: .input, label: "fed values pass through") { d in
            let r = try evaluate([ft(d, [2], [1.5, -2])]) { _, a in a[0] }
            expectTensor(r, d, [2], [1.5, -2])
        },
        InterpreterCase(op: .parameter, label: "bound by name; missing is an error") { d in
            let g = Graph()
            g.output("w", try g.parameter("w", [2], role: .frozen, d))
            let out = try Interpreter().run(g, inputs: [:], parameters: ["w": ft(d, [2], [3, 4])])
            expectTensor(out["w"]!, d, [2], [3, 4])
            #expect(throws: GraphError.self) { try Interpreter().run(g, inputs: [:], parameters: [:]) }
        },
        InterpreterCase(op: .constant, label: "one value fills the shape; full values keep order") { d in
            let splat = try evaluate([]) { g, _ in try g.constant(0.25, shape: [2, 2], d) }
            expectTensor(splat, d, [2, 2], [0.25, 0.25, 0.25, 0.25])
            let full = try evaluate([]) { g, _ in try g.constant(ft(d, [3], [1, 2, 3])) }
            expectTensor(full, d, [3], [1, 2, 3])
        },
    ]

    // MARK: elementwise unary

    /// A unary op checked on fixed inputs against literal values (from a table of the functions).
    static func unaryCase(_ op: OpKind, _ xs: [Double], _ ys: [Double]) -> InterpreterCase {
        InterpreterCase(op: op, label: "table values") { d in
            let r = try evaluate([ft(d, [xs.count], xs)]) { g, a in try g.unary(op, a[0]) }
            // f32 inputs are rounded first, so compare f32 against the f32 tolerance of the exact value.
            expectTensor(r, d, [xs.count], ys)
        }
    }

    static let unary: [InterpreterCase] = [
        unaryCase(.neg, [-1.5, 0, 2], [1.5, 0, -2]),
        unaryCase(.abs, [-1.5, 0, 2], [1.5, 0, 2]),
        unaryCase(.exp, [-1.5, 0, 0.5, 2], [0.22313016014842982, 1, 1.6487212707001282, 7.38905609893065]),
        unaryCase(.log, [0.5, 1, 2], [-0.6931471805599453, 0, 0.6931471805599453]),
        unaryCase(.sqrt, [0.25, 4, 9], [0.5, 2, 3]),
        unaryCase(.rsqrt, [0.25, 4, 16], [2, 0.5, 0.25]),
        unaryCase(.tanh, [-1.5, 0, 0.5, 2], [-0.9051482536448664, 0, 0.46211715726000974, 0.9640275800758169]),
        unaryCase(.erf, [-1.5, 0, 0.5, 2], [-0.9661051464753108, 0, 0.5204998778130465, 0.9953222650189527]),
        unaryCase(.sigmoid, [-1.5, 0, 2], [0.18242552380635635, 0.5, 0.8807970779778823]),
        unaryCase(.relu, [-1.5, 0, 2], [0, 0, 2]),
        unaryCase(.sin, [-1.5, 0, 0.5, 2], [-0.9974949866040544, 0, 0.479425538604203, 0.9092974268256817]),
        unaryCase(.cos, [-1.5, 0, 0.5, 2], [0.0707372016677029, 1, 0.8775825618903728, -0.4161468365471424]),
        InterpreterCase(op: .neg, label: "i32") { _ in
            expectTensor(try evaluate([it([2], [3, -4])]) { g, a in try g.neg(a[0]) }, .i32, [2], [-3, 4])
        },
        InterpreterCase(op: .logicalNot, label: "bool") { _ in
            let r = try evaluate([bt([3], [true, false, true])]) { g, a in try g.unary(.logicalNot, a[0]) }
            expectTensor(r, .bool, [3], [0, 1, 0])
        },
        InterpreterCase(op: .cast, label: "float to i32 truncates toward zero; to bool is != 0") { d in
            let x = ft(d, [4], [-1.75, -0.5, 0, 2.5])
            expectTensor(try evaluate([x]) { g, a in try g.cast(a[0], to: .i32) }, .i32, [4], [-1, 0, 0, 2])
            expectTensor(try evaluate([x]) { g, a in try g.cast(a[0], to: .bool) }, .bool, [4], [1, 1, 0, 1])
            expectTensor(try evaluate([it([2], [-3, 7])]) { g, a in try g.cast(a[0], to: d) }, d, [2], [-3, 7])
            // Out of the i32 range saturates; NaN gives 0 (never a trap).
            let wide = ft(d, [4], [3e9, -1e20, .infinity, .nan])
            expectTensor(try evaluate([wide]) { g, a in try g.cast(a[0], to: .i32) }, .i32, [4], [2147483647, -2147483648, 2147483647, 0])
            let big = try evaluate([]) { g, _ in try g.constant(1e30, shape: [1], .i32) }
            #expect(big.count == 1)
        },
        InterpreterCase(op: .cast, label: "f64 to f32 rounds to the nearest float") { _ in
            let r = try evaluate([ft(.f64, [1], [0.1])]) { g, a in try g.cast(a[0], to: .f32) }
            expectTensor(r, .f32, [1], [Double(Float(0.1))])
            #expect(r.scalars[0] != 0.1)
        },
        InterpreterCase(op: .stopGradient, label: "identity forward") { d in
            expectTensor(try evaluate([ft(d, [2], [1, -2])]) { g, a in try g.stopGradient(a[0]) }, d, [2], [1, -2])
        },
    ]

    // MARK: elementwise binary

    /// `a` [2, 3] against `b` [3] (row broadcast) and `b` [2, 1] (column broadcast).
    static func binaryCase(_ op: OpKind, _ f: @escaping @Sendable (Double, Double) -> Double) -> InterpreterCase {
        InterpreterCase(op: op, label: "broadcast [2,3] with [3] and with [2,1]") { d in
            let a: [Double] = [1, 2, 3, 4, 5, 6]
            let row: [Double] = [2, 0.5, 4], col: [Double] = [2, 0.5]
            let r1 = try evaluate([ft(d, [2, 3], a), ft(d, [3], row)]) { g, v in try g.binary(op, v[0], v[1]) }
            expectTensor(r1, d, [2, 3], (0..<6).map { f(a[$0], row[$0 % 3]) })
            let r2 = try evaluate([ft(d, [2, 1], col), ft(d, [2, 3], a)]) { g, v in try g.binary(op, v[0], v[1]) }
            expectTensor(r2, d, [2, 3], (0..<6).map { f(col[$0 / 3], a[$0]) })
        }
    }

    static func compareCase(_ op: OpKind, _ expected: [Double]) -> InterpreterCase {
        InterpreterCase(op: op, label: "[2,2] against a broadcast [2]") { d in
            let r = try evaluate([ft(d, [2, 2], [1, 2, 3, 4]), ft(d, [2], [2, 3])]) { g, v in try g.binary(op, v[0], v[1]) }
            expectTensor(r, .bool, [2, 2], expected)
        }
    }

    static let binary: [InterpreterCase] = [
        // Expected values written out: a = [[1,2,3],[4,5,6]], row = [2,0.5,4], col = [[2],[0.5]].
        InterpreterCase(op: .add, label: "hand values with broadcasting") { d in
            let r = try evaluate([ft(d, [2, 3], [1, 2, 3, 4, 5, 6]), ft(d, [3], [2, 0.5, 4])]) { g, v in try g.add(v[0], v[1]) }
            expectTensor(r, d, [2, 3], [3, 2.5, 7, 6, 5.5, 10])
            let s = try evaluate([ft(d, [2, 1], [10, 20]), ft(d, [1, 3], [1, 2, 3])]) { g, v in try g.add(v[0], v[1]) }
            expectTensor(s, d, [2, 3], [11, 12, 13, 21, 22, 23])
            let scalar = try evaluate([ft(d, [], [1]), ft(d, [2], [1, 2])]) { g, v in try g.add(v[0], v[1]) }
            expectTensor(scalar, d, [2], [2, 3])
        },
        binaryCase(.add) { $0 + $1 },
        binaryCase(.sub) { $0 - $1 },
        binaryCase(.mul) { $0 * $1 },
        binaryCase(.div) { $0 / $1 },
        binaryCase(.maximum) { Swift.max($0, $1) },
        binaryCase(.minimum) { Swift.min($0, $1) },
        InterpreterCase(op: .pow, label: "hand values") { d in
            let r = try evaluate([ft(d, [4], [2, 9, 4, 2]), ft(d, [4], [3, 0.5, -1, 0])]) { g, v in try g.binary(.pow, v[0], v[1]) }
            expectTensor(r, d, [4], [8, 3, 0.25, 1])
        },
        InterpreterCase(op: .div, label: "i32 divides toward zero") { _ in
            let r = try evaluate([it([3], [7, -7, 6]), it([3], [2, 2, -4])]) { g, v in try g.div(v[0], v[1]) }
            expectTensor(r, .i32, [3], [3, -3, -1])
        },
        compareCase(.eq, [0, 0, 0, 0]),
        compareCase(.ne, [1, 1, 1, 1]),
        compareCase(.lt, [1, 1, 0, 0]),
        compareCase(.le, [1, 1, 0, 0]),
        compareCase(.gt, [0, 0, 1, 1]),
        compareCase(.ge, [0, 0, 1, 1]),
        InterpreterCase(op: .eq, label: "equal elements") { d in
            let r = try evaluate([ft(d, [3], [1, 2, 3]), ft(d, [3], [1, 5, 3])]) { g, v in try g.binary(.eq, v[0], v[1]) }
            expectTensor(r, .bool, [3], [1, 0, 1])
            let le = try evaluate([ft(d, [3], [1, 2, 3]), ft(d, [3], [1, 5, 2])]) { g, v in try g.binary(.le, v[0], v[1]) }
            expectTensor(le, .bool, [3], [1, 1, 0])
            let ge = try evaluate([ft(d, [3], [1, 2, 3]), ft(d, [3], [1, 5, 2])]) { g, v in try g.binary(.ge, v[0], v[1]) }
            expectTensor(ge, .bool, [3], [1, 0, 1])
        },
        InterpreterCase(op: .logicalAnd, label: "truth table, broadcast") { _ in
            let r = try evaluate([bt([2, 2], [true, true, false, false]), bt([2], [true, false])]) { g, v in
                try g.binary(.logicalAnd, v[0], v[1])
            }
            expectTensor(r, .bool, [2, 2], [1, 0, 0, 0])
        },
        InterpreterCase(op: .logicalOr, label: "truth table, broadcast") { _ in
            let r = try evaluate([bt([2, 2], [true, true, false, false]), bt([2], [true, false])]) { g, v in
                try g.binary(.logicalOr, v[0], v[1])
            }
            expectTensor(r, .bool, [2, 2], [1, 1, 1, 0])
        },
        InterpreterCase(op: .where, label: "condition [2,1], a [2,2], scalar b") { d in
            let r = try evaluate([bt([2, 1], [true, false]), ft(d, [2, 2], [1, 2, 3, 4]), ft(d, [], [-1])]) { g, v in
                try g.select(v[0], v[1], v[2])
            }
            expectTensor(r, d, [2, 2], [1, 2, -1, -1])
        },
    ]

    // MARK: reductions

    /// x [2, 3, 2] = 1...12 in row-major order.
    static func x232(_ d: DType) -> Tensor { ft(d, [2, 3, 2], (1...12).map(Double.init)) }

    static let reductions: [InterpreterCase] = [
        InterpreterCase(op: .reduceSum, label: "each axis, pairs, all, keep_dims, negative axis") { d in
            let x = x232(d)
            expectTensor(try evaluate([x]) { g, a in try g.reduceSum(a[0], axes: [0]) }, d, [3, 2], [8, 10, 12, 14, 16, 18])
            expectTensor(try evaluate([x]) { g, a in try g.reduceSum(a[0], axes: [1]) }, d, [2, 2], [9, 12, 27, 30])
            expectTensor(try evaluate([x]) { g, a in try g.reduceSum(a[0], axes: [2]) }, d, [2, 3], [3, 7, 11, 15, 19, 23])
            expectTensor(try evaluate([x]) { g, a in try g.reduceSum(a[0], axes: [-1]) }, d, [2, 3], [3, 7, 11, 15, 19, 23])
            expectTensor(try evaluate([x]) { g, a in try g.reduceSum(a[0], axes: [0, 2]) }, d, [3], [18, 26, 34])
            expectTensor(try evaluate([x]) { g, a in try g.reduceSum(a[0], axes: [0, 1, 2]) }, d, [], [78])
            expectTensor(try evaluate([x]) { g, a in try g.reduceSum(a[0], axes: [1], keepDims: true) }, d, [2, 1, 2], [9, 12, 27, 30])
            expectTensor(try evaluate([x]) { g, a in try g.reduceSum(a[0], axes: [0, 2], keepDims: true) }, d, [1, 3, 1], [18, 26, 34])
        },
        InterpreterCase(op: .reduceSum, label: "i32") { _ in
            expectTensor(try evaluate([it([2, 2], [1, 2, 3, -4])]) { g, a in try g.reduceSum(a[0], axes: [1]) }, .i32, [2], [3, -1])
        },
        InterpreterCase(op: .reduceMax, label: "each axis, keep_dims, negatives") { d in
            let x = ft(d, [2, 3], [-5, 2, -1, 0, -7, -3])
            expectTensor(try evaluate([x]) { g, a in try g.reduceMax(a[0], axes: [0]) }, d, [3], [0, 2, -1])
            expectTensor(try evaluate([x]) { g, a in try g.reduceMax(a[0], axes: [1]) }, d, [2], [2, 0])
            expectTensor(try evaluate([x]) { g, a in try g.reduceMax(a[0], axes: [1], keepDims: true) }, d, [2, 1], [2, 0])
            expectTensor(try evaluate([x]) { g, a in try g.reduceMax(a[0], axes: [0, 1]) }, d, [], [2])
            expectTensor(try evaluate([x232(d)]) { g, a in try g.reduceMax(a[0], axes: [1]) }, d, [2, 2], [5, 6, 11, 12])
        },
        InterpreterCase(op: .reduceMean, label: "each axis, keep_dims") { d in
            let x = x232(d)
            expectTensor(try evaluate([x]) { g, a in try g.reduceMean(a[0], axes: [0]) }, d, [3, 2], [4, 5, 6, 7, 8, 9])
            expectTensor(try evaluate([x]) { g, a in try g.reduceMean(a[0], axes: [1]) }, d, [2, 2], [3, 4, 9, 10])
            expectTensor(try evaluate([x]) { g, a in try g.reduceMean(a[0], axes: [2], keepDims: true) }, d, [2, 3, 1],
                         [1.5, 3.5, 5.5, 7.5, 9.5, 11.5])
            expectTensor(try evaluate([x]) { g, a in try g.reduceMean(a[0], axes: [0, 1, 2]) }, d, [], [6.5])
        },
        InterpreterCase(op: .argmax, label: "each axis, first of ties, keep_dims") { d in
            let x = ft(d, [2, 3], [1, 5, 5, 7, -1, 2])
            expectTensor(try evaluate([x]) { g, a in try g.argmax(a[0], axis: 1) }, .i32, [2], [1, 0])
            expectTensor(try evaluate([x]) { g, a in try g.argmax(a[0], axis: 0) }, .i32, [3], [1, 0, 0])
            expectTensor(try evaluate([x]) { g, a in try g.argmax(a[0], axis: -1) }, .i32, [2], [1, 0])
            let kept = try evaluate([x]) { g, a in try g.emit(.argmax, [a[0]], ["axis": .int(1), "keep_dims": .bool(true)]) }
            expectTensor(kept, .i32, [2, 1], [1, 0])
            expectTensor(try evaluate([x232(d)]) { g, a in try g.argmax(a[0], axis: 1) }, .i32, [2, 2], [2, 2, 2, 2])
        },
    ]

    // MARK: data movement

    static let shapes: [InterpreterCase] = [
        InterpreterCase(op: .reshape, label: "row-major order is kept") { d in
            let r = try evaluate([ft(d, [2, 3], [1, 2, 3, 4, 5, 6])]) { g, a in try g.reshape(a[0], [3, 1, 2]) }
            expectTensor(r, d, [3, 1, 2], [1, 2, 3, 4, 5, 6])
        },
        InterpreterCase(op: .transpose, label: "2-D and a 3-D permutation") { d in
            let r = try evaluate([ft(d, [2, 3], [1, 2, 3, 4, 5, 6])]) { g, a in try g.transpose(a[0], [1, 0]) }
            expectTensor(r, d, [3, 2], [1, 4, 2, 5, 3, 6])
            // out[i, j, k] = x[j, k, i] for perm [2, 0, 1].
            let t = try evaluate([x232(d)]) { g, a in try g.transpose(a[0], [2, 0, 1]) }
            expectTensor(t, d, [2, 2, 3], [1, 3, 5, 7, 9, 11, 2, 4, 6, 8, 10, 12])
        },
        InterpreterCase(op: .broadcastTo, label: "rows, columns, new leading axes") { d in
            expectTensor(try evaluate([ft(d, [3], [1, 2, 3])]) { g, a in try g.broadcast(a[0], to: [2, 3]) }, d, [2, 3], [1, 2, 3, 1, 2, 3])
            expectTensor(try evaluate([ft(d, [2, 1], [1, 2])]) { g, a in try g.broadcast(a[0], to: [2, 3]) }, d, [2, 3], [1, 1, 1, 2, 2, 2])
            expectTensor(try evaluate([ft(d, [], [7])]) { g, a in try g.broadcast(a[0], to: [2]) }, d, [2], [7, 7])
        },
        InterpreterCase(op: .slice, label: "a window in two axes, and one axis") { d in
            let x = ft(d, [3, 4], (0..<12).map(Double.init))
            expectTensor(try evaluate([x]) { g, a in try g.slice(a[0], starts: [1, 1], limits: [3, 3]) }, d, [2, 2], [5, 6, 9, 10])
            expectTensor(try evaluate([x]) { g, a in try g.slice(a[0], axis: 1, 3..<4) }, d, [3, 1], [3, 7, 11])
            expectTensor(try evaluate([x]) { g, a in try g.slice(a[0], axis: 0, 1..<1) }, d, [0, 4], [])
        },
        InterpreterCase(op: .pad, label: "zeros before and after") { d in
            let r = try evaluate([ft(d, [2, 2], [1, 2, 3, 4])]) { g, a in try g.pad(a[0], low: [1, 0], high: [0, 1]) }
            expectTensor(r, d, [3, 3], [0, 0, 0, 1, 2, 0, 3, 4, 0])
        },
        InterpreterCase(op: .concat, label: "axis 0, axis 1, three operands") { d in
            let a = ft(d, [2, 2], [1, 2, 3, 4]), b = ft(d, [1, 2], [5, 6]), c = ft(d, [2, 1], [7, 8])
            expectTensor(try evaluate([a, b]) { g, v in try g.concat(v, axis: 0) }, d, [3, 2], [1, 2, 3, 4, 5, 6])
            expectTensor(try evaluate([a, c]) { g, v in try g.concat(v, axis: 1) }, d, [2, 3], [1, 2, 7, 3, 4, 8])
            expectTensor(try evaluate([c, a, c]) { g, v in try g.concat(v, axis: -1) }, d, [2, 4], [7, 1, 2, 7, 8, 3, 4, 8])
        },
        InterpreterCase(op: .gather, label: "embedding rows with 2-D indices; axis 1") { d in
            let table = ft(d, [3, 2], [10, 11, 20, 21, 30, 31])
            let rows = try evaluate([table, it([2, 2], [2, 0, 0, 1])]) { g, v in try g.gather(v[0], v[1]) }
            expectTensor(rows, d, [2, 2, 2], [30, 31, 10, 11, 10, 11, 20, 21])
            let cols = try evaluate([table, it([3], [1, 1, 0])]) { g, v in try g.gather(v[0], v[1], axis: 1) }
            expectTensor(cols, d, [3, 3], [11, 11, 10, 21, 21, 20, 31, 31, 30])
        },
        InterpreterCase(op: .scatterAdd, label: "repeated indices accumulate; axis 1") { d in
            let u = ft(d, [3, 2], [1, 2, 3, 4, 5, 6])
            let r = try evaluate([u, it([3], [2, 0, 2])]) { g, v in try g.scatterAdd(v[0], v[1], size: 4) }
            expectTensor(r, d, [4, 2], [3, 4, 0, 0, 6, 8, 0, 0])
            let c = try evaluate([u, it([2], [1, 1])]) { g, v in try g.scatterAdd(v[0], v[1], axis: 1, size: 3) }
            expectTensor(c, d, [3, 3], [0, 3, 0, 0, 7, 0, 0, 11, 0])
        },
        InterpreterCase(op: .iota, label: "counts along the axis") { d in
            expectTensor(try evaluate([]) { g, _ in try g.iota([2, 3], axis: 1, d) }, d, [2, 3], [0, 1, 2, 0, 1, 2])
            expectTensor(try evaluate([]) { g, _ in try g.iota([2, 3], axis: 0) }, .i32, [2, 3], [0, 0, 0, 1, 1, 1])
        },
    ]

    // MARK: matmul

    // A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]], A·B = [[58,64],[139,154]]; with transpose flags the
    // operands are stored transposed and the product is the same.
    static let aRows: [Double] = [1, 2, 3, 4, 5, 6], aCols: [Double] = [1, 4, 2, 5, 3, 6]
    static let bRows: [Double] = [7, 8, 9, 10, 11, 12], bCols: [Double] = [7, 9, 11, 8, 10, 12]
    static let product: [Double] = [58, 64, 139, 154]

    static let matmul: [InterpreterCase] = [false, true].flatMap { ta in
        [false, true].map { tb in
            InterpreterCase(op: .matmul, label: "transpose_a \(ta), transpose_b \(tb), batched") { d in
                let a = ft(d, ta ? [3, 2] : [2, 3], ta ? aCols : aRows)
                let b = ft(d, tb ? [2, 3] : [3, 2], tb ? bCols : bRows)
                let r = try evaluate([a, b]) { g, v in try g.matmul(v[0], v[1], transposeA: ta, transposeB: tb) }
                expectTensor(r, d, [2, 2], product)
                // Batch of two A's (the second doubled) against one shared B.
                let a2 = ft(d, [2] + a.shape, a.scalars + a.scalars.map { 2 * $0 })
                let rb = try evaluate([a2, b]) { g, v in try g.matmul(v[0], v[1], transposeA: ta, transposeB: tb) }
                expectTensor(rb, d, [2, 2, 2], product + product.map { 2 * $0 })
            }
        }
    } + [
        InterpreterCase(op: .matmul, label: "batch dimensions broadcast [2,1] with [3]") { d in
            // a[i] = (i+1)·A, b[j] = (j+1)·B, so out[i, j] = (i+1)(j+1)·A·B.
            let a = ft(d, [2, 1, 2, 3], aRows + aRows.map { 2 * $0 })
            let b = ft(d, [3, 3, 2], bRows + bRows.map { 2 * $0 } + bRows.map { 3 * $0 })
            let r = try evaluate([a, b]) { g, v in try g.matmul(v[0], v[1]) }
            let expected = (0..<2).flatMap { i in (0..<3).flatMap { j in product.map { Double((i + 1) * (j + 1)) * $0 } } }
            expectTensor(r, d, [2, 3, 2, 2], expected)
        },
    ]

    // MARK: randomness

    static let random: [InterpreterCase] = [
        InterpreterCase(op: .randomUniform, label: "same seed same numbers, salt and seed change them, mean ~0.5") { d in
            func draw(seed: Int, salt: Int, count: Int) throws -> Tensor {
                try evaluate([it([], [seed])]) { g, a in
                    try g.emit(.randomUniform, [a[0]], ["salt": .int(salt)], type: TensorType(d, [count]))
                }
            }
            let x = try draw(seed: 42, salt: 0, count: 4096)
            #expect(x.dtype == d && x.shape == [4096])
            #expect(try draw(seed: 42, salt: 0, count: 4096) == x)
            #expect(try draw(seed: 42, salt: 1, count: 4096) != x)
            #expect(try draw(seed: 43, salt: 0, count: 4096) != x)
            #expect(x.scalars.allSatisfy { $0 >= 0 && $0 < 1 })
            let mean = x.scalars.reduce(0, +) / Double(x.count)
            #expect(Swift.abs(mean - 0.5) < 0.02, "mean \(mean)")  // sd of the mean is 0.0045
            // The numbers are the published function of (seed, salt, index).
            #expect(x.scalars[7] == Double(counterUniform(seed: 42, salt: 0, index: 7)))
            // Distinct call sites get distinct salts from the builder.
            let g = Graph()
            let seed = try g.input("seed", [], .i32)
            let r1 = try g.randomUniform(seed: seed, shape: [2], d), r2 = try g.randomUniform(seed: seed, shape: [2], d)
            #expect(g[r1].attributes.int("salt") != g[r2].attributes.int("salt"))
        },
        InterpreterCase(op: .sampleCategorical, label: "certain rows, frequencies, reproducible") { d in
            // Row 0 puts all mass on class 2; row 1 only allows class 1.
            let certain = try evaluate([ft(d, [2, 3], [0, 0, 60, -.infinity, 0, -.infinity]), it([], [5])]) { g, v in
                try g.sampleCategorical(logits: v[0], seed: v[1])
            }
            expectTensor(certain, .i32, [2], [2, 1])
            // p = (0.2, 0.8) over 4000 rows.
            let rows = 4000
            let logits = ft(d, [rows, 2], (0..<rows).flatMap { _ in [Foundation.log(0.2), Foundation.log(0.8)] })
            let s = try evaluate([logits, it([], [9])]) { g, v in try g.sampleCategorical(logits: v[0], seed: v[1]) }
            let ones = Double(s.scalars.filter { $0 == 1 }.count) / Double(rows)
            #expect(Swift.abs(ones - 0.8) < 0.03, "frequency of class 1: \(ones)")  // sd 0.0063
            let again = try evaluate([logits, it([], [9])]) { g, v in try g.sampleCategorical(logits: v[0], seed: v[1]) }
            #expect(again == s)
            let other = try evaluate([logits, it([], [10])]) { g, v in try g.sampleCategorical(logits: v[0], seed: v[1]) }
            #expect(other != s)
        },
    ]

    // MARK: compound ops

    // softmax([1, 2, 3]) and log_softmax([1, 2, 3]) to 16 digits.
    static let softmax123: [Double] = [0.09003057317038046, 0.24472847105479767, 0.6652409557748219]
    static let logSoftmax123: [Double] = [-2.40760596444438, -1.4076059644443801, -0.40760596444438013]

    static let compound: [InterpreterCase] = [
        InterpreterCase(op: .softmax, label: "last axis, shift invariance, axis 0") { d in
            let r = try evaluate([ft(d, [2, 3], [1, 2, 3, 1001, 1002, 1003])]) { g, a in try g.softmax(a[0]) }
            expectTensor(r, d, [2, 3], softmax123 + softmax123)
            let c = try evaluate([ft(d, [3, 2], [1, 0, 2, 0, 3, 0])]) { g, a in try g.softmax(a[0], axis: 0) }
            expectTensor(c, d, [3, 2], [softmax123[0], 1.0 / 3, softmax123[1], 1.0 / 3, softmax123[2], 1.0 / 3])
        },
        InterpreterCase(op: .logSoftmax, label: "last axis, shift invariance, axis 0") { d in
            let r = try evaluate([ft(d, [2, 3], [1, 2, 3, 1001, 1002, 1003])]) { g, a in try g.logSoftmax(a[0]) }
            expectTensor(r, d, [2, 3], logSoftmax123 + logSoftmax123)
            let c = try evaluate([ft(d, [3, 1], [1, 2, 3])]) { g, a in try g.logSoftmax(a[0], axis: 0) }
            expectTensor(c, d, [3, 1], logSoftmax123)
        },
        InterpreterCase(op: .layerNorm, label: "plain, eps, gamma and beta") { d in
            // x = [1,2,3,4]: mean 2.5, variance 1.25, 1/sqrt(1.25) = 0.8944271909999159.
            let inv = 0.8944271909999159
            let z = [-1.5 * inv, -0.5 * inv, 0.5 * inv, 1.5 * inv]
            let x = ft(d, [2, 4], [1, 2, 3, 4, 11, 12, 13, 14])
            expectTensor(try evaluate([x]) { g, a in try g.layerNorm(a[0], eps: 0) }, d, [2, 4], z + z)
            let invEps = 0.894423613312618  // 1/sqrt(1.25 + 1e-5)
            let ze = [-1.5 * invEps, -0.5 * invEps, 0.5 * invEps, 1.5 * invEps]
            expectTensor(try evaluate([x]) { g, a in try g.layerNorm(a[0], eps: 1e-5) }, d, [2, 4], ze + ze)
            let gamma = ft(d, [4], [1, 2, 1, 2]), beta = ft(d, [4], [0, 0, 1, 1])
            let affine = [z[0], 2 * z[1], z[2] + 1, 2 * z[3] + 1]
            let r = try evaluate([x, gamma, beta]) { g, a in try g.layerNorm(a[0], gamma: a[1], beta: a[2], eps: 0) }
            expectTensor(r, d, [2, 4], affine + affine)
        },
        InterpreterCase(op: .rmsNorm, label: "plain and with gamma") { d in
            // x = [1,2,3,4]: mean square 7.5, 1/sqrt(7.5) = 0.3651483716701107.
            let inv = 0.3651483716701107
            let x = ft(d, [1, 4], [1, 2, 3, 4])
            expectTensor(try evaluate([x]) { g, a in try g.rmsNorm(a[0], eps: 0) }, d, [1, 4], [inv, 2 * inv, 3 * inv, 4 * inv])
            let r = try evaluate([x, ft(d, [4], [2, 1, 0, -1])]) { g, a in try g.rmsNorm(a[0], gamma: a[1], eps: 0) }
            expectTensor(r, d, [1, 4], [2 * inv, 2 * inv, 0, -4 * inv])
            let rz = try evaluate([ft(d, [1, 2], [0, 0])]) { g, a in try g.rmsNorm(a[0], eps: 1e-6) }
            expectTensor(rz, d, [1, 2], [0, 0])
        },
        InterpreterCase(op: .gelu, label: "erf and tanh forms") { d in
            let x = ft(d, [4], [-1, 0, 1, 2])
            expectTensor(try evaluate([x]) { g, a in try g.gelu(a[0]) }, d, [4],
                         [-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416])
            expectTensor(try evaluate([x]) { g, a in try g.gelu(a[0], approximate: true) }, d, [4],
                         [-0.15880800939172324, 0, 0.8411919906082768, 1.954597694087775])
        },
        InterpreterCase(op: .crossEntropy, label: "mean over rows, ignore index, label smoothing") { d in
            // Row 0: logits [1,2,3], label 2: -log softmax = 0.40760596444438013. Row 1: uniform: log 3.
            let logits = ft(d, [2, 3], [1, 2, 3, 5, 5, 5])
            let log3 = 1.0986122886681098
            let both = try evaluate([logits, it([2], [2, 0])]) { g, v in try g.crossEntropy(logits: v[0], labels: v[1]) }
            expectTensor(both, d, [], [(0.40760596444438013 + log3) / 2])
            let ignored = try evaluate([logits, it([2], [2, -100])]) { g, v in try g.crossEntropy(logits: v[0], labels: v[1]) }
            expectTensor(ignored, d, [], [0.40760596444438013])
            let custom = try evaluate([logits, it([2], [7, 1])]) { g, v in
                try g.crossEntropy(logits: v[0], labels: v[1], ignoreIndex: 7)
            }
            expectTensor(custom, d, [], [log3])
            let none = try evaluate([logits, it([2], [-100, -100])]) { g, v in try g.crossEntropy(logits: v[0], labels: v[1]) }
            expectTensor(none, d, [], [0])
            // ε = 0.1: 0.9·0.4076 + 0.1·mean(2.4076, 1.4076, 0.4076) = 0.5076059644443801; the uniform row stays log 3.
            let smooth = try evaluate([logits, it([2], [2, 0])]) { g, v in
                try g.crossEntropy(logits: v[0], labels: v[1], labelSmoothing: 0.1)
            }
            expectTensor(smooth, d, [], [(0.5076059644443801 + log3) / 2])
            // Batch and sequence axes: labels [1, 2] against logits [1, 2, 3].
            let seq = try evaluate([ft(d, [1, 2, 3], [1, 2, 3, 5, 5, 5]), it([1, 2], [2, 0])]) { g, v in
                try g.crossEntropy(logits: v[0], labels: v[1])
            }
            expectTensor(seq, d, [], [(0.40760596444438013 + log3) / 2])
        },
        InterpreterCase(op: .crossEntropy, label: "label out of range is an error") { d in
            #expect(throws: GraphError.self) {
                try evaluate([ft(d, [1, 3], [1, 2, 3]), it([1], [3])]) { g, v in try g.crossEntropy(logits: v[0], labels: v[1]) }
            }
        },
    ]

    // MARK: attention

    // With q = 0 every visible key gets the same weight, so each output row is the mean of the visible rows of
    // v = [1, 2, 4, 8] (one feature); the mask is then the only thing that decides the result.
    static let vRows: [Double] = [1, 2, 4, 8]

    /// attention over q = 0 [B, H, lq, 2], k [B, Hk, lk, 2] (arbitrary), v [B, Hk, lk, 1].
    static func uniformAttention(_ d: DType, mask: MaskPattern, b: Int = 1, h: Int = 1, hk: Int = 1, lq: Int = 4,
                                 v: [Double]? = nil, lens: [Int]? = nil, bias: Tensor? = nil) throws -> Tensor {
        let lk = 4
        let vs = v ?? (0..<(b * hk)).flatMap { _ in vRows }
        var inputs = [ft(d, [b, h, lq, 2], [Double](repeating: 0, count: b * h * lq * 2)),
                      ft(d, [b, hk, lk, 2], (0..<(b * hk * lk * 2)).map { Double($0 % 5) - 2 }),
                      ft(d, [b, hk, lk, 1], vs)]
        if let lens { inputs.append(it([b], lens)) }
        if let bias { inputs.append(bias) }
        return try evaluate(inputs) { g, a in
            try g.attention(a[0], a[1], a[2], mask: mask, lens: lens == nil ? nil : a[3], bias: bias == nil ? nil : a.last)
        }
    }

    static let attention: [InterpreterCase] = [
        InterpreterCase(op: .attention, label: "scores: softmax(scale·q·kᵀ)·v by hand") { d in
            // q·k = [ln 3, 0] with scale 1: weights [3/4, 1/4], so out = 0.75·v0 + 0.25·v1.
            let ln3 = 1.0986122886681098
            let r = try evaluate([ft(d, [1, 1, 1, 2], [1, 0]), ft(d, [1, 1, 2, 2], [ln3, 5, 0, -5]),
                                  ft(d, [1, 1, 2, 2], [4, 1, 8, -1])]) { g, a in
                try g.attention(a[0], a[1], a[2], scale: 1)
            }
            let w0 = 0.75, w1 = 0.25
            expectTensor(r, d, [1, 1, 1, 2], [w0 * 4 + w1 * 8, w0 * 1 - w1 * 1])
            // The default scale is 1/sqrt(D): q·k = 2 ln 3 with D = 4 gives ln 3 again.
            let s = try evaluate([ft(d, [1, 1, 1, 4], [1, 1, 0, 0]), ft(d, [1, 1, 2, 4], [ln3, ln3, 0, 0, 0, 0, 0, 0]),
                                  ft(d, [1, 1, 2, 1], [4, 8])]) { g, a in try g.attention(a[0], a[1], a[2]) }
            expectTensor(s, d, [1, 1, 1, 1], [5])
        },
        InterpreterCase(op: .attention, label: "mask none") { d in
            expectTensor(try uniformAttention(d, mask: .none), d, [1, 1, 4, 1], [3.75, 3.75, 3.75, 3.75])
        },
        InterpreterCase(op: .attention, label: "mask causal") { d in
            expectTensor(try uniformAttention(d, mask: .causal), d, [1, 1, 4, 1], [1, 1.5, 7.0 / 3, 3.75])
        },
        InterpreterCase(op: .attention, label: "mask prefix_causal(2)") { d in
            expectTensor(try uniformAttention(d, mask: .prefixCausal(2)), d, [1, 1, 4, 1], [1.5, 1.5, 7.0 / 3, 3.75])
        },
        InterpreterCase(op: .attention, label: "mask block(1, 3)") { d in
            expectTensor(try uniformAttention(d, mask: .block([1, 3])), d, [1, 1, 4, 1], [1, 14.0 / 3, 14.0 / 3, 14.0 / 3])
        },
        InterpreterCase(op: .attention, label: "key padding per batch row, alone and with causal") { d in
            let r = try uniformAttention(d, mask: .none, b: 2, lens: [3, 1])
            expectTensor(r, d, [2, 1, 4, 1], [7.0 / 3, 7.0 / 3, 7.0 / 3, 7.0 / 3, 1, 1, 1, 1])
            let c = try uniformAttention(d, mask: .causal, lens: [2])
            expectTensor(c, d, [1, 1, 4, 1], [1, 1.5, 1.5, 1.5])
            // No visible key at all: the row is 0.
            let empty = try uniformAttention(d, mask: .none, lens: [0])
            expectTensor(empty, d, [1, 1, 4, 1], [0, 0, 0, 0])
        },
        InterpreterCase(op: .attention, label: "additive bias") { d in
            // Bias ln 3 on key 1: weights (1, 3, 1, 1)/6, out = (1 + 6 + 4 + 8)/6.
            let bias = ft(d, [1, 1, 1, 4], [0, 1.0986122886681098, 0, 0])
            expectTensor(try uniformAttention(d, mask: .none, bias: bias), d, [1, 1, 4, 1], [Double](repeating: 19.0 / 6, count: 4))
            // -inf bias masks like a data mask: causal plus a masked key 0.
            let hide = ft(d, [1, 1, 1, 4], [-.infinity, 0, 0, 0])
            expectTensor(try uniformAttention(d, mask: .causal, bias: hide), d, [1, 1, 4, 1], [0, 2, 3, 14.0 / 3])
        },
        InterpreterCase(op: .attention, label: "grouped-query: 4 query heads over 2 key/value heads") { d in
            let v = vRows + vRows.map { 10 * $0 }
            let r = try uniformAttention(d, mask: .causal, h: 4, hk: 2, lq: 2, v: v)
            // Lq = 2 < Lk = 4 with bottom-right alignment: query rows sit at positions 2 and 3.
            let head0: [Double] = [7.0 / 3, 3.75]
            expectTensor(r, d, [1, 4, 2, 1], head0 + head0 + head0.map { 10 * $0 } + head0.map { 10 * $0 })
        },
        InterpreterCase(op: .attentionProbs, label: "weights by hand, causal rows, padding, GQA heads") { d in
            // q·k = [ln 3, 0] with scale 1: weights [3/4, 1/4].
            let ln3 = 1.0986122886681098
            let w = try evaluate([ft(d, [1, 1, 1, 2], [1, 0]), ft(d, [1, 1, 2, 2], [ln3, 5, 0, -5])]) { g, a in
                try g.attentionProbs(a[0], a[1], scale: 1)
            }
            expectTensor(w, d, [1, 1, 1, 2], [0.75, 0.25])
            // q = 0: uniform over the visible keys; 2 query heads share 1 key head; key padding hides key 2 of
            // batch row 1, and lens 0 would leave rows all zero.
            let q = ft(d, [2, 2, 3, 2], [Double](repeating: 0, count: 24))
            let k = ft(d, [2, 1, 3, 2], (0..<12).map { Double($0) })
            let causal = try evaluate([q, k, it([2], [3, 2])]) { g, a in try g.attentionProbs(a[0], a[1], mask: .causal, lens: a[2]) }
            let full: [Double] = [1, 0, 0, 0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3]
            let padded: [Double] = [1, 0, 0, 0.5, 0.5, 0, 0.5, 0.5, 0]
            expectTensor(causal, d, [2, 2, 3, 3], full + full + padded + padded)
            let none = try evaluate([q, k, it([2], [0, 1])]) { g, a in try g.attentionProbs(a[0], a[1], lens: a[2]) }
            expectTensor(none, d, [2, 2, 3, 3], [Double](repeating: 0, count: 18) + (0..<6).flatMap { _ in [1.0, 0, 0] })
        },
        InterpreterCase(op: .attention, label: "Lq != Lk: one decode step sees every key under causal") { d in
            expectTensor(try uniformAttention(d, mask: .causal, lq: 1), d, [1, 1, 1, 1], [3.75])
            expectTensor(try uniformAttention(d, mask: .prefixCausal(3), lq: 2), d, [1, 1, 2, 1], [7.0 / 3, 3.75])
        },
    ]

    // MARK: fused kernels (made by the `fuse` pass; same values as the ops they replace)

    static let fused: [InterpreterCase] = [
        InterpreterCase(op: .fusedElementwise, label: "bias + GELU, and a comparison") { d in
            // x + b = [-1, 0, 1, 2], then exact GELU.
            let x = ft(d, [2, 2], [-2, -1, 0, 1]), b = ft(d, [2], [1, 1])
            let r = try evaluate([x, b]) { g, a in try g.emit(.fusedElementwise, a, ["expr": .string("gelu(add($0, $1))")]) }
            expectTensor(r, d, [2, 2], [-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416])
            let c = try evaluate([x, b]) { g, a in try g.emit(.fusedElementwise, a, ["expr": .string("lt($0, mul($1, 0.5))")]) }
            expectTensor(c, .bool, [2, 2], [1, 1, 1, 0])
        },
        InterpreterCase(op: .fusedReduce, label: "sum, mean and max of squares") { d in
            let x = ft(d, [2, 2], [1, 2, 3, 4])
            func reduce(_ kind: String, _ keep: Bool) throws -> Tensor {
                try evaluate([x]) { g, a in
                    try g.emit(.fusedReduce, a, ["expr": .string("mul($0, $0)"), "reduce": .symbol(kind), "axes": .ints([1]),
                                                 "keep_dims": .bool(keep)])
                }
            }
            expectTensor(try reduce("sum", false), d, [2], [5, 25])
            expectTensor(try reduce("mean", true), d, [2, 1], [2.5, 12.5])
            expectTensor(try reduce("max", false), d, [2], [4, 16])
        },
        InterpreterCase(op: .fusedMatmul, label: "GEMM with a bias + ReLU epilogue, transposed B") { d in
            // A·B = [[58, 64], [139, 154]]; + [-60, 0]; ReLU.
            let r = try evaluate([ft(d, [2, 3], aRows), ft(d, [2, 3], bCols), ft(d, [2], [-60, 0])]) { g, a in
                try g.emit(.fusedMatmul, a, ["expr": .string("relu(add($0, $1))"), "transpose_b": .bool(true)])
            }
            expectTensor(r, d, [2, 2], [0, 64, 79, 154])
        },
        InterpreterCase(op: .addLayerNorm, label: "layer_norm(x + r) with gamma and beta") { d in
            // x + r = [1, 2, 3, 4]: the layer_norm case above.
            let inv = 0.8944271909999159
            let z = [-1.5 * inv, -0.5 * inv, 0.5 * inv, 1.5 * inv]
            let r = try evaluate([ft(d, [1, 4], [0, 1, 2, 3]), ft(d, [1, 4], [1, 1, 1, 1]), ft(d, [4], [1, 2, 1, 2]), ft(d, [4], [0, 0, 1, 1])]) { g, a in
                try g.emit(.addLayerNorm, a, ["eps": .float(0)])
            }
            expectTensor(r, d, [1, 4], [z[0], 2 * z[1], z[2] + 1, 2 * z[3] + 1])
        },
    ]
}
