import BLIP2
import GraphAutodiff
import GraphIR
import Testing

/// A few AdamW steps of the training graphs on the reference interpreter lower the loss on a fixed batch.
@Suite struct TrainingTests {
    /// Runs `steps` optimizer steps on one fixed batch; returns the loss before each step.
    static func losses(_ c: BLIP2Config, stage: BLIP2Stage, steps: Int, learningRate: Double, shapes: BLIP2Shapes) throws -> [Double] {
        let model = try BLIP2Model.build(config: c, stage: stage, mode: .eval, shapes: shapes)
        let t = try trainingGraph(minimizing: try #require(model.output("loss")), in: model,
                                  options: TrainingOptions(optimizer: .adamW(AdamW(weightDecay: 0))))
        var parameters = t.graph.initialParameters(seed: 7)
        var inputs = sampleInputs(model, c, stage: stage, seed: 3)
        var losses: [Double] = []
        for step in 1...steps {
            inputs[TrainingGraph.learningRateInput] = Tensor(scalar: learningRate)
            inputs[TrainingGraph.stepInput] = Tensor(scalar: Double(step), dtype: .i32)
            let out = try Interpreter().run(t.graph, inputs: inputs, parameters: parameters)
            losses.append(try #require(out["loss"]).scalar)
            if ProcessInfoShim.verbose { print("\(c.name) stage \(stage.rawValue) \(c.llm.kind) step \(step) loss \(losses.last!)") }
            for (name, value) in out where name.hasPrefix("update:") { parameters[String(name.dropFirst(7))] = value }
        }
        return losses
    }

    @Test func stage1LossFalls() throws {
        let l = try Self.losses(.test(), stage: .one, steps: 3, learningRate: 3e-3, shapes: BLIP2Shapes(batch: 2, textLength: 5))
        #expect(l.allSatisfy { $0.isFinite })
        #expect(l.last! < l.first! - 0.05, "losses \(l)")
    }

    /// The `tiny` config (the one the trainers use) at batch 2 and a short text, on the interpreter: about 14 s
    /// per stage-1 step in a debug build on the 2-core machine (the reference matmul and broadcast loops walk
    /// strides, no per-element index arrays).
    @Test(arguments: [BLIP2Stage.one, .two])
    func tinyLossFalls(_ stage: BLIP2Stage) throws {
        let l = try Self.losses(.tiny(), stage: stage, steps: 3, learningRate: 3e-3, shapes: BLIP2Shapes(batch: 2, textLength: 4))
        #expect(l.allSatisfy { $0.isFinite })
        #expect(l.last! < l.first! - 0.05, "losses \(l)")
    }

    @Test(arguments: [LLMKind.opt, .t5, .llama])
    func stage2LossFalls(_ llm: LLMKind) throws {
        let l = try Self.losses(.test(llm: llm), stage: .two, steps: 3, learningRate: 3e-3,
                                shapes: BLIP2Shapes(batch: 2, textLength: 5, targetLength: 4))
        #expect(l.allSatisfy { $0.isFinite })
        #expect(l.last! < l.first! - 0.05, "losses \(l)")
    }
}
