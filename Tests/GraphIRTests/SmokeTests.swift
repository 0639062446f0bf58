import Testing
@testable import GraphIR

@Suite struct SmokeTests {
    @Test func mlpForward() throws {
        let g = Graph(name: "mlp")
        let x = try g.input("x", [2, 3])
        let w = try g.parameter("fc.weight", [4, 3], initializer: .normal(std: 0.02))
        let y = try g.scope("fc") { try g.matmul(x, w, transposeB: true) }
        g.output("y", try g.gelu(y))
        let p = g.initialParameters(seed: 1)
        let r = try Interpreter().run(g, inputs: ["x": Tensor(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3])], parameters: p)
        #expect(r["y"]!.shape == [2, 4])
        #expect(throws: GraphError.self) { try g.matmul(x, x) }
    }
}
