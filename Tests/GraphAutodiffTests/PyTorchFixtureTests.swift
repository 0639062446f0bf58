import Foundation
import GraphAutodiff
import GraphIR
import Testing

/// The fixture written by Tools/make_autodiff_fixture.py (PyTorch, float64).
private struct BlockFixture {
    let json: [String: Any]
    let config: [String: Any]

    init() throws {
        let url = try #require(Bundle.module.url(forResource: "prenorm_block", withExtension: "json", subdirectory: "Fixtures"))
        json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        config = try #require(json["config"] as? [String: Any])
    }

    func int(_ key: String) throws -> Int { try #require(config[key] as? Int, "config.\(key)") }
    func double(_ key: String) throws -> Double { try #require((config[key] as? NSNumber)?.doubleValue, "config.\(key)") }

    func tensors(_ key: String, _ dtype: DType) throws -> [String: Tensor] {
        let group = try #require(json[key] as? [String: Any], "\(key)")
        var out: [String: Tensor] = [:]
        for (name, value) in group { out[name] = try Self.tensor(value, dtype) }
        return out
    }

    static func tensor(_ value: Any, _ dtype: DType) throws -> Tensor {
        let entry = try #require(value as? [String: Any])
        let shape = try #require(entry["shape"] as? [Int]), data = try #require(entry["data"] as? [NSNumber])
        return Tensor(dtype, shape, data.map(\.doubleValue))
    }

    func inputs(_ dtype: DType) throws -> [String: Tensor] {
        let inputs = try #require(json["inputs"] as? [String: Any])
        let (b, l) = (try int("batch"), try int("length"))
        return ["x": try Self.tensor(try #require(inputs["x"]), dtype),
                "lens": Tensor(ints: try #require(inputs["lens"] as? [Int]), shape: [b]),
                "labels": Tensor(ints: try #require(inputs["labels"] as? [Int]), shape: [b, l])]
    }
}

/// The pre-LN block of the fixture, built with the raw builder (weights in nn.Linear layout, so every projection
/// is `matmul(x, W, transposeB: true)`).
private func buildBlock(_ f: BlockFixture, _ dtype: DType) throws -> (Graph, Value) {
    let (b, l, d, heads, ffn, vocab) = (try f.int("batch"), try f.int("length"), try f.int("width"), try f.int("heads"),
                                        try f.int("ffn"), try f.int("vocab"))
    let eps = try f.double("eps")
    let g = Graph(name: "prenorm_block")
    let x = try g.input("x", [b, l, d], dtype)
    let lens = try g.input("lens", [b], .i32)
    let labels = try g.input("labels", [b, l], .i32)
    func p(_ name: String, _ shape: [Int]) throws -> Value { try g.parameter(name, shape, dtype) }
    func linear(_ h: Value, _ name: String, _ out: Int, _ inp: Int, bias: Bool = true) throws -> Value {
        let y = try g.matmul(h, p(name + ".weight", [out, inp]), transposeB: true)
        return bias ? try g.add(y, p(name + ".bias", [out])) : y
    }
    func splitHeads(_ t: Value) throws -> Value { try g.transpose(g.reshape(t, [b, l, heads, d / heads]), [0, 2, 1, 3]) }
    let h = try g.layerNorm(x, gamma: p("ln1.weight", [d]), beta: p("ln1.bias", [d]), eps: eps)
    let (q, k, v) = (try splitHeads(linear(h, "q", d, d)), try splitHeads(linear(h, "k", d, d)), try splitHeads(linear(h, "v", d, d)))
    let a = try g.reshape(g.transpose(g.attention(q, k, v, mask: .causal, lens: lens), [0, 2, 1, 3]), [b, l, d])
    let x1 = try g.add(x, linear(a, "o", d, d))
    let h2 = try g.layerNorm(x1, gamma: p("ln2.weight", [d]), beta: p("ln2.bias", [d]), eps: eps)
    let y = try g.add(x1, linear(g.gelu(linear(h2, "fc1", ffn, d)), "fc2", d, ffn))
    let logits = try linear(y, "lm", vocab, d, bias: false)
    let loss = try g.crossEntropy(logits: logits, labels: labels, ignoreIndex: try f.int("ignore_index"),
                                  labelSmoothing: try f.double("label_smoothing"))
    g.output("loss", loss)
    return (g, loss)
}

/// max |a − b| / max(1, max |b|) over one tensor.
private func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
    maxAbsDifference(a, b) / Swift.max(1, b.scalars.map(Swift.abs).max() ?? 0)
}

@Suite("PyTorch parity")
struct PyTorchFixtureTests {
    @Test("pre-LN transformer block: loss and every parameter gradient match PyTorch (f64: 1e-12, f32: 1e-5)",
          arguments: [(DType.f64, 1e-12), (DType.f32, 1e-5)])
    func gradientsMatch(dtype: DType, tolerance: Double) throws {
        let f = try BlockFixture()
        let (g, loss) = try buildBlock(f, dtype)
        let r = try gradients(of: loss, in: g)
        let params = try f.tensors("parameters", dtype)
        let out = try Interpreter().run(r.graph, inputs: try f.inputs(dtype), parameters: params)
        let expectedLoss = try #require((f.json["loss"] as? NSNumber)?.doubleValue)
        #expect(Swift.abs(try #require(out["loss"]).scalar - expectedLoss) <= tolerance * Swift.max(1, Swift.abs(expectedLoss)))
        let expected = try f.tensors("gradients", dtype)
        #expect(expected.count == 17 && r.gradients.count == 17)
        for (name, want) in expected {
            let got = try #require(out["grad." + name], "no gradient for \(name)")
            #expect(relativeError(got, want) <= tolerance, "\(name): error \(relativeError(got, want))")
        }
    }

    @Test("one AdamW step of the block matches torch.optim.AdamW (f64)")
    func adamWStepMatches() throws {
        let f = try BlockFixture()
        let (g, loss) = try buildBlock(f, .f64)
        let t = try trainingGraph(minimizing: loss, in: g,
                                  options: TrainingOptions(optimizer: .adamW(AdamW(weightDecay: try f.double("weight_decay")))))
        var params = try f.tensors("parameters", .f64)
        for s in t.stateParameters {
            let type = t.graph.type(of: try #require(t.graph.parameters.first { $0.name == s }?.value))
            params[s] = Tensor(.f64, type.shape, repeating: 0)
        }
        var inputs = try f.inputs(.f64)
        inputs[TrainingGraph.learningRateInput] = Tensor(scalar: try f.double("lr"), dtype: .f64)
        inputs[TrainingGraph.stepInput] = Tensor(ints: [1], shape: [])
        let out = try Interpreter().run(t.graph, inputs: inputs, parameters: params)
        let expected = try f.tensors("after_adamw", .f64)
        #expect(expected.count == 17)
        for (name, want) in expected {
            let got = try #require(out["update:" + name], "no update for \(name)")
            #expect(relativeError(got, want) <= 1e-9, "\(name): error \(relativeError(got, want))")
        }
    }
}
