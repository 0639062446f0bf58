@testable import GraphIR
import Testing

// The fused kernels' expression language: printing, parsing and errors (interpreter cases are in InterpreterTests).
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
