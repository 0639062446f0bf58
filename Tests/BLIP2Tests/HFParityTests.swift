import BLIP2HF
import GraphIO
import GraphIR
import Testing

/// Each committed fixture runs through the real loading code (config.json, key layout, safetensors weights,
/// HF input layout) and the BLIP-2 graphs on the reference interpreter, and must reproduce what
/// transformers 5.24 computed: forward values and loss within 1e-4 (absolute up to magnitude 1, relative above),
/// stage-2 gradients within 1e-3 of each tensor's largest entry (see ParityTolerance).
@Suite("Parity with transformers on the committed fixtures")
struct HFParityTests {
    static func reference(_ name: String) throws -> [String: Tensor] {
        try SafetensorsFile(path: FixtureFolders.path(name) + "/outputs.safetensors").allTensors()
    }

    static let engines = ["interpreter", "executor", "optimized"]

    static func evaluator(_ engine: String) -> Evaluator {
        switch engine {
        case "executor": return .executor
        case "optimized": return .optimizedExecutor
        default: return .interpreter
        }
    }

    @Test("conditional generation: outputs, loss and every stage-2 gradient match",
          arguments: FixtureFolders.generation, engines)
    func conditionalGeneration(name: String, engine: String) throws {
        let run = try BLIP2Run(folder: FixtureFolders.path(name), model: .conditionalGeneration)
        let inputs = try RunInputs.load(path: FixtureFolders.path(name) + "/inputs.safetensors", config: run.config, model: .conditionalGeneration)
        let outputs = try run.run(inputs, grads: true, evaluate: Self.evaluator(engine))
        let reference = try Self.reference(name)
        // Every logit position is compared, padded ones included (OPT positions follow transformers' cumsum rule).
        let failures = ParityTolerance.failures(reference: reference, candidate: outputs)
        #expect(failures.isEmpty, "\(name) on the \(engine): \(failures.joined(separator: "\n"))")
        // Exactly the stage-2 trainable parameters get gradients: none for the ViT or the LLM, none missing.
        let gradients = Set(outputs.keys.filter { $0.hasPrefix("grad.") })
        #expect(gradients == Set(try FixtureFolders.manifest(name).grads))
        #expect(gradients.contains("grad.vision_model.post_layernorm.weight") && gradients.contains("grad.query_tokens"))
        #expect(outputs["loss"]?.shape == [])
    }

    @Test("retrieval: ITM logits, ITC similarities and the towers match (with and without image placeholders)",
          arguments: FixtureFolders.retrieval, engines)
    func retrieval(name: String, engine: String) throws {
        let run = try BLIP2Run(folder: FixtureFolders.path(name), model: .retrieval)
        let inputs = try RunInputs.load(path: FixtureFolders.path(name) + "/inputs.safetensors", config: run.config, model: .retrieval)
        let outputs = try run.run(inputs, evaluate: Self.evaluator(engine))
        let failures = ParityTolerance.failures(reference: try Self.reference(name), candidate: outputs)
        #expect(failures.isEmpty, "\(name) on the \(engine): \(failures.joined(separator: "\n"))")
        #expect(outputs["itm_logits"]?.shape == [inputs.batch, 2] && outputs["logits_per_image"]?.shape == [inputs.batch, inputs.batch])
    }

    @Test("a changed weight is caught: the comparison can fail")
    func perturbedWeightFails() throws {
        let run = try BLIP2Run(folder: FixtureFolders.path("opt-b"), model: .conditionalGeneration)
        let inputs = try RunInputs.load(path: FixtureFolders.path("opt-b") + "/inputs.safetensors", config: run.config, model: .conditionalGeneration)
        let name = "qformer.encoder.layer.1.output_query.dense.bias"
        let perturbed = Evaluator { g, feeds, weights, _ in
            var parameters = try weights.tensors(for: g)
            guard let bias = parameters[name] else { throw GraphIOError(.file, "no parameter \(name)") }
            parameters[name] = Tensor(bias.dtype, bias.shape, bias.scalars.enumerated().map { $0 == 0 ? $1 + 1e-2 : $1 })
            return try Interpreter().run(g, inputs: feeds, parameters: parameters)
        }
        let outputs = try run.run(inputs, evaluate: perturbed)
        let failures = ParityTolerance.failures(reference: try Self.reference("opt-b"), candidate: outputs)
        #expect(failures.contains { $0.hasPrefix("qformer_last_hidden_state") })
    }

    @Test("without labels: no loss in the outputs, and --grads is refused")
    func withoutLabels() throws {
        let run = try BLIP2Run(folder: FixtureFolders.path("t5"), model: .conditionalGeneration)
        var tensors = try SafetensorsFile(path: FixtureFolders.path("t5") + "/inputs.safetensors").allTensors()
        tensors["labels"] = nil
        let inputs = try RunInputs(tensors: tensors, config: run.config, model: .conditionalGeneration)
        let outputs = try run.run(inputs, evaluate: .executor)
        #expect(outputs["loss"] == nil && outputs["logits"] != nil)
        let reference = try Self.reference("t5")
        for key in ["vision_last_hidden_state", "qformer_last_hidden_state", "language_projection_output"] {
            #expect(ParityTolerance.failure(key: key, reference: reference[key]!, candidate: outputs[key]!) == nil)
        }
        #expect(throws: GraphIOError.self) { try run.run(inputs, grads: true) }
    }

    @Test("checkpoint problems stop the run with the load report")
    func checkpointErrors() throws {
        #expect(throws: GraphIOError.self) { try BLIP2Run(folder: FixtureFolders.path("retrieval"), model: .conditionalGeneration) }
        do {
            _ = try BLIP2Run(folder: FixtureFolders.path("opt-a"), model: .retrieval)
            Issue.record("a generation checkpoint was accepted as retrieval")
        } catch {
            #expect("\(error)".contains("the checkpoint is a Blip2ForConditionalGeneration; --model retrieval reads Blip2ForImageTextRetrieval"))
        }
        do {
            _ = try BLIP2Run(folder: FixtureFolders.root + "/no-such-model", model: .retrieval)
            Issue.record("a missing folder was accepted")
        } catch {
            #expect("\(error)".contains("no-such-model"))
        }
    }
}
