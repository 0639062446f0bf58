import Foundation
import GraphAutodiff
import GraphIR
import Testing

/// A frozen encoder, a trainable bridge and a frozen "LLM" head, as BLIP-2 stage 2 in miniature (f64).
/// Dimensions are all different so a matmul's result shape tells which weight it is the gradient of.
struct FrozenSandwich {
    let b = CheckBuilder(seed: 2024)
    let loss: Value
    var g: Graph { b.g }
    var trainable: [String] { g.parameters.filter { $0.role == .trainable }.map(\.name) }
    /// Frozen weight shapes (encoder [4, 5], LLM [6, 7] and [7, 8]) and activation shapes of the LLM block.
    static let frozenWeightShapes: Set<[Int]> = [[4, 5], [6, 7], [7, 8]]
    static let llmActivationShapes: Set<[Int]> = [[2, 3, 6], [2, 3, 7]]

    init() throws {
        let (b, g) = (self.b, self.b.g)
        func frozen(_ name: String, _ shape: [Int]) throws -> Value {
            var data: [Double] = []
            for _ in 0..<shape.reduce(1, *) { data.append(b.rng.uniform(-0.8, 0.8)) }
            b.parameters[name] = Tensor(.f64, shape, data)
            return try g.parameter(name, shape, role: .frozen, .f64)
        }
        let x = try g.input("x", [2, 3, 4], .f64)
        var xs: [Double] = []
        for _ in 0..<24 { xs.append(b.rng.uniform()) }
        b.inputs["x"] = Tensor(.f64, [2, 3, 4], xs)
        let h1 = try g.scope("encoder") {
            let h = try g.gelu(g.add(g.matmul(x, frozen("encoder.w", [4, 5])), frozen("encoder.b", [5])))
            return try g.layerNorm(h, gamma: frozen("encoder.ln.weight", [5]), beta: frozen("encoder.ln.bias", [5]), eps: 1e-5)
        }
        let h2 = try g.scope("bridge") { try g.add(g.matmul(h1, b.param([5, 6])), b.param([6])) }
        loss = try g.scope("llm") {
            let h3 = try g.layerNorm(h2, gamma: frozen("llm.ln.weight", [6]), beta: frozen("llm.ln.bias", [6]), eps: 1e-5)
            let a = try g.gelu(g.matmul(h3, frozen("llm.fc1", [6, 7])))
            let logits = try g.matmul(a, frozen("llm.fc2", [7, 8]))
            let labels = try g.constant(Tensor(ints: [1, 7, -100, 0, 3, 5], shape: [2, 3]))
            return try g.crossEntropy(logits: logits, labels: labels, labelSmoothing: 0.1)
        }
        g.output("loss", loss)
    }
}

private func backwardMatmuls(_ r: GradientResult, scope: String? = nil) -> [[Int]] {
    r.backwardValues.compactMap { v in
        let n = r.graph[v]
        guard n.op == .matmul, scope.map({ n.scope.hasPrefix("backward." + $0) }) ?? true else { return nil }
        return n.type.shape
    }
}

@Suite("Selective differentiation")
struct SelectiveDifferentiationTests {
    @Test("frozen blocks: no dW, dX through the downstream block, nothing for the upstream block")
    func frozenSandwichStructure() throws {
        let model = try FrozenSandwich()
        let r = try gradients(of: model.loss, in: model.g)
        #expect(r.gradients.map(\.name) == model.trainable)
        let matmuls = backwardMatmuls(r)
        #expect(matmuls.filter { FrozenSandwich.frozenWeightShapes.contains($0) }.isEmpty, "dW matmul of a frozen weight: \(matmuls)")
        #expect(backwardMatmuls(r, scope: "llm").filter { FrozenSandwich.llmActivationShapes.contains($0) }.count == 2)
        #expect(matmuls.contains([5, 6]), "the trainable weight's dW")
        #expect(!matmuls.contains([2, 3, 5]), "no dX into the frozen encoder")
        #expect(r.backwardValues.filter { r.graph[$0].scope.hasPrefix("backward.encoder") }.isEmpty)
        for v in r.backwardValues {
            for o in r.graph[v].operands where o.id < r.forwardCount {
                #expect(!r.graph[o].scope.hasPrefix("encoder") || r.graph[o].op == .layerNorm,
                        "backward reads encoder value \(o) (\(r.graph[o].op.mnemonic))")
            }
        }

        // The counting criterion does find dW matmuls when frozen weights are differentiated too.
        let everything = try gradients(of: model.loss, in: model.g, wrt: model.g.parameters.map(\.name))
        #expect(backwardMatmuls(everything).filter { FrozenSandwich.frozenWeightShapes.contains($0) }.count == 3)
    }

    @Test("notes: grad kinds per block, saved values exclude activations only dW would need")
    func frozenSandwichNotes() throws {
        let model = try FrozenSandwich()
        let r = try gradients(of: model.loss, in: model.g)
        let fwd = (0..<r.forwardCount).map(Value.init)
        func kinds(_ scope: String, _ op: OpKind) -> [String] {
            fwd.filter { r.graph[$0].scope == scope && r.graph[$0].op == op }.compactMap { r.graph[$0].notes.symbol("grad") }
        }
        #expect(kinds("encoder", .matmul) == ["none"])
        #expect(kinds("encoder", .layerNorm) == ["none"])
        #expect(kinds("bridge", .matmul) == ["full"])
        #expect(kinds("llm", .matmul) == ["input_only", "input_only"])
        #expect(kinds("llm", .layerNorm) == ["input_only"])
        #expect(kinds("llm", .gelu) == ["full"])
        // The gelu output feeds only llm.fc2: just dW(fc2) would read it, so it is not kept.
        let geluOut = try #require(fwd.first { r.graph[$0].scope == "llm" && r.graph[$0].op == .gelu })
        #expect(r.graph[geluOut].notes.bool("saved") == nil)
        #expect(!r.saved.contains(geluOut))
        // The encoder output is kept: dW of the trainable bridge reads it.
        let encoderOut = try #require(fwd.first { r.graph[$0].scope == "encoder" && r.graph[$0].op == .layerNorm })
        #expect(r.graph[encoderOut].notes.bool("saved") == true)
        let stats = try r.stats()
        #expect(stats.backwardFLOPs > 0 && stats.avoidedFLOPs > 0)
        #expect(stats.savedBytes == r.saved.reduce(0) { $0 + r.graph.type(of: $1).byteCount })
    }

    @Test("frozen sandwich gradients match finite differences")
    func frozenSandwichFiniteDifferences() throws {
        let model = try FrozenSandwich()
        let r = try checkGradients(model.b, loss: model.loss, wrt: model.trainable)
        #expect(r.checked == 36)
        #expect(r.maxRelativeError <= gradientTolerance, "\(r.worst)")
    }

    @Test("stop_gradient cuts the backward pass; fan-out accumulates")
    func stopGradientAndFanOut() throws {
        let b = CheckBuilder(seed: 5)
        let x = try b.param([3])
        let blocked = try b.g.stopGradient(b.g.exp(x))
        // x is used four times: twice by mul, once by add, once under stop_gradient.
        let loss = try b.loss(b.g.add(b.g.mul(x, x), b.g.mul(x, blocked)))
        let r = try gradients(of: loss, in: b.g)
        #expect(r.graph[blocked].notes.symbol("grad") == nil || r.graph[blocked].notes.symbol("grad") == "none")
        let grad = try Interpreter().run(r.graph, inputs: [:], parameters: b.parameters)["grad.p0"]!
        let xs = b.parameters["p0"]!.scalars
        let w = try #require(b.g.nodes.first { $0.op == .constant && $0.type.shape == [3] }?.attributes.floats("value"))
        for i in 0..<3 {
            // d/dx [w·(x² + x·stop(eˣ))] = w·(2x + eˣ), the stop_gradient branch contributes no e^x·x term.
            let expected = w[i] * (2 * xs[i] + Foundation.exp(xs[i]))
            #expect(Swift.abs(grad.scalars[i] - expected) < 1e-12)
        }
    }

    @Test("a parameter the loss does not read gets a zero gradient and no backward ops")
    func unusedParameter() throws {
        let b = CheckBuilder(seed: 6)
        let used = try b.param([2]), unused = try b.param([2, 2])
        _ = try b.g.exp(unused)
        let loss = try b.loss(b.g.tanh(used))
        let r = try gradients(of: loss, in: b.g)
        let out = try Interpreter().run(r.graph, inputs: [:], parameters: b.parameters)
        #expect(out["grad.p1"]?.scalars == [0, 0, 0, 0])
        #expect(r.backwardValues.allSatisfy { r.graph[$0].op != .exp })
    }

    @Test("casts: f32 → f64 passes the cotangent back as f32; a round trip through i32 cuts it")
    func casts() throws {
        let g = Graph(name: "casts")
        let x = try g.parameter("x", [3], .f32)
        let wide = try g.cast(x, to: .f64)
        let viaInt = try g.cast(g.cast(x, to: .i32), to: .f64)
        let loss = try g.reduceSum(g.add(g.mul(wide, wide), viaInt), axes: [0])
        let r = try gradients(of: loss, in: g)
        #expect(r.graph.type(of: try #require(r.gradient("x"))) == TensorType(.f32, [3]))
        let out = try Interpreter().run(r.graph, inputs: [:], parameters: ["x": Tensor(floats: [0.5, -1.25, 2], shape: [3])])
        #expect(out["grad.x"]?.scalars == [1, -2.5, 4])
    }

    @Test("bad requests fail with a clear error")
    func errors() throws {
        let b = CheckBuilder(seed: 7)
        let x = try b.param([2])
        let loss = try b.loss(x)
        #expect(throws: GraphError.self) { try gradients(of: loss, in: b.g, wrt: ["nope"]) }
        let ints = try b.g.iota([2], axis: 0)
        #expect(throws: GraphError.self) { try gradients(of: ints, in: b.g) }
    }
}
