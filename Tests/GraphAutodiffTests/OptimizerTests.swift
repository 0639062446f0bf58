import Foundation
import GraphAutodiff
import GraphIR
import Testing

/// loss = Σ w ⊙ c + ½ Σ b²: the gradients are c for w and b for b, so expected updates are easy to write down.
private struct Quadratic {
    let g = Graph(name: "quadratic")
    let loss: Value
    let c: [Double] = [0.5, -1.5, 2.0, 0.25]
    let params: [String: Tensor] = [
        "layer.weight": Tensor(.f64, [2, 2], [0.1, -0.2, 0.3, 0.4]),
        "layer.bias": Tensor(.f64, [2], [1.0, -2.0]),
    ]

    init() throws {
        let w = try g.parameter("layer.weight", [2, 2], .f64)
        let b = try g.parameter("layer.bias", [2], .f64)
        let linear = try g.reduceSum(g.mul(w, g.constant(Tensor(.f64, [2, 2], c))), axes: [0, 1])
        let square = try g.binary(.mul, g.reduceSum(g.mul(b, b), axes: [0]), scalar: 0.5)
        loss = try g.add(linear, square)
        g.output("loss", loss)
    }

    var gradients: [String: [Double]] { ["layer.weight": c, "layer.bias": params["layer.bias"]!.scalars] }
}

private func run(_ t: TrainingGraph, _ params: [String: Tensor], lr: Double, step: Int, apply: Bool? = nil) throws -> [String: Tensor] {
    var inputs: [String: Tensor] = [TrainingGraph.learningRateInput: Tensor(scalar: lr, dtype: .f64),
                                    TrainingGraph.stepInput: Tensor(ints: [step], shape: [])]
    if let apply { inputs[TrainingGraph.applyUpdateInput] = Tensor(.bool, [], [apply ? 1 : 0]) }
    return try Interpreter().run(t.graph, inputs: inputs, parameters: params)
}

private func expectClose(_ a: [Double]?, _ b: [Double], _ what: String, tolerance: Double = 1e-12) {
    guard let a, a.count == b.count else {
        Issue.record("\(what): got \(String(describing: a)), expected \(b)")
        return
    }
    for (x, y) in zip(a, b) { #expect(Swift.abs(x - y) <= tolerance * Swift.max(1, Swift.abs(y)), "\(what): \(a) vs \(b)") }
}

@Suite("Optimizers and schedule")
struct OptimizerTests {
    @Test("AdamW step 3 from non-zero moments matches the PyTorch formula; biases are not decayed")
    func adamWStep() throws {
        let q = try Quadratic()
        let opt = AdamW(beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.1)
        let t = try trainingGraph(minimizing: q.loss, in: q.g, options: TrainingOptions(optimizer: .adamW(opt)))
        #expect(Set(t.stateParameters) == ["adam.m.layer.weight", "adam.v.layer.weight", "adam.m.layer.bias", "adam.v.layer.bias"])
        #expect(t.decayed == ["layer.weight"])
        var params = q.params
        for (name, p) in q.params {
            params["adam.m." + name] = Tensor(.f64, p.shape, p.scalars.indices.map { 0.01 * Double($0 + 1) })
            params["adam.v." + name] = Tensor(.f64, p.shape, p.scalars.indices.map { 0.002 * Double($0 + 1) })
        }
        let (lr, step) = (0.01, 3)
        let out = try run(t, params, lr: lr, step: step)
        for (name, p) in q.params {
            let grad = q.gradients[name]!
            let m0 = params["adam.m." + name]!.scalars, v0 = params["adam.v." + name]!.scalars
            let decay = name == "layer.weight" ? opt.weightDecay : 0
            var m1: [Double] = [], v1: [Double] = [], p1: [Double] = []
            for i in grad.indices {
                m1.append(0.9 * m0[i] + 0.1 * grad[i])
                v1.append(0.99 * v0[i] + 0.01 * grad[i] * grad[i])
                let mhat = m1[i] / (1 - pow(0.9, Double(step))), vhat = v1[i] / (1 - pow(0.99, Double(step)))
                p1.append(p.scalars[i] * (1 - lr * decay) - lr * mhat / (vhat.squareRoot() + 1e-8))
            }
            expectClose(out["update:adam.m." + name]?.scalars, m1, "m \(name)")
            expectClose(out["update:adam.v." + name]?.scalars, v1, "v \(name)")
            expectClose(out["update:" + name]?.scalars, p1, "param \(name)")
        }
    }

    @Test("SGD with momentum and coupled weight decay")
    func sgdStep() throws {
        let q = try Quadratic()
        let t = try trainingGraph(minimizing: q.loss, in: q.g,
                                  options: TrainingOptions(optimizer: .sgd(SGD(momentum: 0.9, weightDecay: 0.05))))
        var params = q.params
        for (name, p) in q.params { params["sgd.momentum." + name] = Tensor(.f64, p.shape, repeating: 0.2) }
        let out = try run(t, params, lr: 0.1, step: 1)
        for (name, p) in q.params {
            let decay = name == "layer.weight" ? 0.05 : 0
            let d = q.gradients[name]!.indices.map { q.gradients[name]![$0] + decay * p.scalars[$0] }
            let buffer = d.map { 0.9 * 0.2 + $0 }
            expectClose(out["update:sgd.momentum." + name]?.scalars, buffer, "buffer \(name)")
            expectClose(out["update:" + name]?.scalars, zip(p.scalars, buffer).map { $0 - 0.1 * $1 }, "param \(name)")
        }
        let plain = try trainingGraph(minimizing: q.loss, in: q.g, options: TrainingOptions(optimizer: .sgd(SGD())))
        #expect(plain.stateParameters.isEmpty)
        let o = try run(plain, q.params, lr: 0.5, step: 1)
        expectClose(o["update:layer.bias"]?.scalars, [0.5, -1.0], "plain SGD")
    }

    @Test("gradient accumulation applies the mean of the micro-batch gradients on the last micro-batch")
    func accumulation() throws {
        let q = try Quadratic()
        let t = try trainingGraph(minimizing: q.loss, in: q.g, options: TrainingOptions(optimizer: .sgd(SGD()), microBatches: 2))
        var params = q.params
        for (name, p) in q.params { params["accum." + name] = Tensor(.f64, p.shape, repeating: 0) }
        let first = try run(t, params, lr: 1, step: 1, apply: false)
        expectClose(first["update:layer.bias"]?.scalars, [1, -2], "parameter unchanged before the last micro-batch")
        expectClose(first["update:accum.layer.bias"]?.scalars, [1, -2], "accumulated gradient")
        params["accum.layer.bias"] = first["update:accum.layer.bias"]!
        params["accum.layer.weight"] = first["update:accum.layer.weight"]!
        params["layer.bias"] = Tensor(.f64, [2], [3, -2])  // second micro-batch sees gradient (3, -2)
        let second = try run(t, params, lr: 1, step: 1, apply: true)
        expectClose(second["update:layer.bias"]?.scalars, [3 - 2, -2 + 2], "mean of (1, -2) and (3, -2) applied")
        expectClose(second["update:accum.layer.bias"]?.scalars, [0, 0], "accumulator reset")
    }

    @Test("global-norm clipping scales all gradients by maxNorm / norm")
    func clipping() throws {
        let q = try Quadratic()
        let t = try trainingGraph(minimizing: q.loss, in: q.g, options: TrainingOptions(optimizer: .sgd(SGD()), clipGlobalNorm: 1))
        let out = try run(t, q.params, lr: 1, step: 1)
        let all = q.gradients.values.flatMap { $0 }
        let norm = all.map { $0 * $0 }.reduce(0, +).squareRoot()
        expectClose(out["grad_norm"]?.scalars, [norm], "norm")
        let coefficient = 1 / (norm + 1e-6)
        expectClose(out["update:layer.bias"]?.scalars, [1 - coefficient * 1, -2 + coefficient * 2], "clipped step")
        let loose = try trainingGraph(minimizing: q.loss, in: q.g, options: TrainingOptions(optimizer: .sgd(SGD()), clipGlobalNorm: 100))
        expectClose(try run(loose, q.params, lr: 1, step: 1)["update:layer.bias"]?.scalars, [0, 0], "no clipping under the bound")
    }

    @Test("f32 parameters under an f64 loss: the step scalars are converted per parameter")
    func mixedPrecision() throws {
        let g = Graph(name: "mixed")
        let w = try g.parameter("w", [2], .f32)
        let loss = try g.reduceSum(g.cast(g.mul(w, w), to: .f64), axes: [0])
        let t = try trainingGraph(minimizing: loss, in: g, options: TrainingOptions(optimizer: .sgd(SGD()), clipGlobalNorm: 100))
        let out = try Interpreter().run(t.graph, inputs: ["lr": Tensor(scalar: 0.25, dtype: .f64), "step": Tensor(ints: [1], shape: [])],
                                        parameters: ["w": Tensor(floats: [1, -2], shape: [2])])
        #expect(out["update:w"] == Tensor(floats: [0.5, -1], shape: [2]))
    }

    @Test("a model input named like a training input is rejected")
    func inputNameClash() throws {
        let g = Graph(name: "clash")
        let lr = try g.input("lr", [])
        let loss = try g.mul(lr, g.parameter("w", []))
        #expect(throws: GraphError.self) { try trainingGraph(minimizing: loss, in: g) }
    }

    @Test("warmup + cosine schedule values")
    func schedule() {
        let s = WarmupCosineSchedule(baseRate: 1e-3, warmupSteps: 10, totalSteps: 110, minRate: 1e-5)
        let expected: [(Int, Double)] = [(0, 0), (5, 5e-4), (10, 1e-3), (60, 1e-5 + (1e-3 - 1e-5) * 0.5),
                                         (35, 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + cos(Double.pi / 4))), (110, 1e-5), (500, 1e-5)]
        for (step, rate) in expected { #expect(Swift.abs(s.rate(atStep: step) - rate) < 1e-15, "step \(step)") }
    }

    @Test("default decay mask: matrices decay; biases, norms and 1-D parameters do not")
    func decayMask() {
        #expect(defaultDecayMask(name: "q.weight", type: TensorType(.f32, [4, 4])))
        #expect(!defaultDecayMask(name: "q.bias", type: TensorType(.f32, [4])))
        #expect(!defaultDecayMask(name: "ln.weight", type: TensorType(.f32, [4])))
        #expect(!defaultDecayMask(name: "embeddings.LayerNorm.weight", type: TensorType(.f32, [4, 4])))
        #expect(!defaultDecayMask(name: "scale", type: TensorType(.f32, [1])))
    }

    @Test("the training graph verifies and round-trips through the text format, notes included")
    func trainingGraphText() throws {
        let model = try FrozenSandwich()
        let t = try trainingGraph(minimizing: model.loss, in: model.g,
                                  options: TrainingOptions(microBatches: 2, clipGlobalNorm: 1))
        try Verifier.verify(t.graph)
        let text = GraphPrinter.print(t.graph)
        #expect(text.contains("grad = input_only") && text.contains("saved = true"))
        #expect(GraphPrinter.print(try GraphParser.parse(text)) == text)
    }

    @Test("training graph dumps stats with optimizer FLOPs")
    func trainingStats() throws {
        let model = try FrozenSandwich()
        let t = try trainingGraph(minimizing: model.loss, in: model.g)
        let s = try t.stats()
        #expect(s.forwardFLOPs > 0 && s.backwardFLOPs > 0 && s.optimizerFLOPs > 0)
        #expect(s.avoidedFLOPs > 0)
        #expect(t.graph.updates.count == 2 + 4)
    }
}
