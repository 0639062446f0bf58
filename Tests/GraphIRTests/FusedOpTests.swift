@testable import GraphIR
import Testing

// Interpreter cases for the fused kernels (Ops/Fused.swift), by hand, and the expression language's errors.
extension InterpreterCases {
    static let fused: [InterpreterCase] = [
        InterpreterCase(op: .fusedElementwise, label: "where/gt/mul/neg with a broadcast operand; bool result") { d in
            let x = ft(d, [3], [1, -2, 3]), y = ft(d, [1], [0.5])
            let r = try evaluate([x, y]) { g, a in try g.emit(.fusedElementwise, a, ["expr": .string("where(gt($0, 0), mul($0, $1), neg($0))")]) }
            expectTensor(r, d, [3], [0.5, 2, 1.5])
            let b = try evaluate([x, y]) { g, a in try g.emit(.fusedElementwise, a, ["expr": .string("lt($0, $1)")]) }
            expectTensor(b, .bool, [3], [0, 1, 0])
        },
        InterpreterCase(op: .fusedReduce, label: "sum, max and mean of squares") { d in
            let x = ft(d, [2, 2], [1, 2, 3, 4])
            for (kind, keep, shape, expected) in [("sum", false, [2], [5.0, 25]), ("max", false, [2], [4, 16]), ("mean", true, [2, 1], [2.5, 12.5])] {
                let r = try evaluate([x]) { g, a in
                    try g.emit(.fusedReduce, a, ["expr": .string("mul($0, $0)"), "reduce": .symbol(kind), "axes": .ints([1]), "keep_dims": .bool(keep)])
                }
                expectTensor(r, d, shape, expected)
            }
        },
        InterpreterCase(op: .fusedMatmul, label: "bias + relu epilogue, transpose_b") { d in
            let a = ft(d, [1, 2], [1, 2]), b = ft(d, [2, 2], [1, 0, 0, 1]), bias = ft(d, [2], [0.5, -3])
            let r = try evaluate([a, b, bias]) { g, x in try g.emit(.fusedMatmul, x, ["expr": .string("relu(add($0, $1))")]) }
            expectTensor(r, d, [1, 2], [1.5, 0])
            let bt = ft(d, [2, 2], [0, 1, 1, 0])
            let t = try evaluate([a, bt]) { g, x in try g.emit(.fusedMatmul, x, ["expr": .string("mul($0, 2)"), "transpose_b": .bool(true)]) }
            expectTensor(t, d, [1, 2], [4, 2])
        },
        InterpreterCase(op: .addLayerNorm, label: "layer_norm(x + r) with gamma and beta") { d in
            let inv = 0.8944271909999159  // 1/sqrt(1.25): the variance of [1, 2, 3, 4]
            let x = ft(d, [1, 4], [0, 1, 2, 3]), r = ft(d, [1, 4], [1, 1, 1, 1])
            let gamma = ft(d, [4], [2, 2, 2, 2]), beta = ft(d, [4], [1, 1, 1, 1])
            let y = try evaluate([x, r, gamma, beta]) { g, a in try g.emit(.addLayerNorm, a, ["eps": .float(0)]) }
            expectTensor(y, d, [1, 4], [-1.5, -0.5, 0.5, 1.5].map { 2 * $0 * inv + 1 })
        },
    ]
}

@Suite struct FusedExpressionTests {
    @Test func printsWhatItParses() throws {
        for text in ["gelu(add($0, $1))", "where(lt($1, 0.5), -10000.0, $0)", "mul($0, -inf)", "gelu_tanh(neg($2))"] {
            #expect(try FusedExpression.parse(text).description == text)
        }
    }

    @Test func badExpressionsAreBuildErrorsNamingTheProblem() throws {
        let g = Graph()
        let x = try g.input("x", [2])
        for (expr, fragment) in [("add($0)", "takes 2 arguments"), ("foo($0)", "known function"), ("add($0, $3)", "reads $3"),
                                 ("add($0, $0", "',' or ')'"), ("", "an expression")] {
            do {
                _ = try g.emit(.fusedElementwise, [x], ["expr": .string(expr)])
                Issue.record("expected an error for \(expr)")
            } catch let e as GraphError {
                #expect(e.message.contains(fragment), "\(e.message)")
            }
        }
    }
}
