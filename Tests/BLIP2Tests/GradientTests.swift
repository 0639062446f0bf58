import BLIP2
import GraphAutodiff
import GraphIR
import Testing

/// Which parameters learn: roles in the built graph, then what autodiff actually differentiates.
@Suite struct GradientTests {
    static func isFrozenByDesign(_ name: String) -> Bool {
        (name.hasPrefix("vision_model.") && !name.hasPrefix("vision_model.post_layernorm.")) || name.hasPrefix("language_model.")
    }

    static let cases: [(BLIP2Stage, LLMKind)] = [(.one, .opt), (.two, .opt), (.two, .t5), (.two, .llama)]

    @Test(arguments: cases)
    func imageEncoderAndLLMAreFrozenEverythingElseTrains(_ stage: BLIP2Stage, _ llm: LLMKind) throws {
        let g = try BLIP2Model.build(config: .test(llm: llm), stage: stage, mode: .eval, shapes: BLIP2Shapes(batch: 2, textLength: 5, targetLength: 3))
        for p in g.parameters {
            #expect(p.role == (Self.isFrozenByDesign(p.name) ? .frozen : .trainable), "\(p.name) is \(p.role)")
        }
        let trainable = Set(g.parameters.filter { $0.role == .trainable }.map(\.name))
        #expect(trainable.contains("vision_model.post_layernorm.weight"))
        #expect(trainable.contains("query_tokens"))
        #expect(trainable.contains("qformer.encoder.layer.0.crossattention.attention.query.weight"))
        if stage == .one {
            for n in ["temp", "itm_head.weight", "vision_projection.weight", "text_projection.weight", "cls.predictions.bias",
                      "embeddings.word_embeddings.weight", "qformer.encoder.layer.0.intermediate.dense.weight"] {
                #expect(trainable.contains(n), "\(n)")
            }
        } else {
            #expect(trainable.contains("language_projection.weight"))
            #expect(!trainable.contains(where: { $0.hasPrefix("embeddings.") || $0.hasPrefix("cls.") || $0.contains(".intermediate.") }))
        }

        // Autodiff: every trainable parameter gets a real gradient, no frozen one is differentiated, the ViT gets
        // no backward work at all and the frozen LLM only passes cotangents through (no weight gradients).
        let r = try gradients(of: try #require(g.output("loss")), in: g)
        #expect(Set(r.gradients.map(\.name)) == trainable)
        for (name, v) in r.gradients {
            #expect(r.graph[v].op != .constant, "\(name) has no path to the loss")
        }
        for (i, n) in g.nodes.enumerated() where n.scope.hasPrefix("vision_model.encoder") || n.scope.hasPrefix("vision_model.embeddings") {
            #expect(r.kinds[i] == .none, "ViT node \(n.op.mnemonic) in \(n.scope) has gradient kind \(r.kinds[i])")
        }
        if stage == .two {
            let llmMatmuls = g.nodes.indices.filter { g.nodes[$0].op == .matmul && g.nodes[$0].scope.contains("language_model") }
            #expect(!llmMatmuls.isEmpty)
            #expect(llmMatmuls.allSatisfy { r.kinds[$0] != .full })
        }
    }
}
