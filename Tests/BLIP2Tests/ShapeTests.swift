import BLIP2
import GraphIR
import Testing

@Suite struct ShapeTests {
    static let smallConfigs: [(String, LLMKind)] = ["tiny", "test", "hf-test"].flatMap { n in LLMKind.allCases.map { (n, $0) } }

    @Test(arguments: smallConfigs)
    func everyOutputHasItsShape(_ name: String, _ llm: LLMKind) throws {
        let c = try BLIP2Config.named(name, llm: llm)
        let shapes = BLIP2Shapes(batch: 3, textLength: 7, targetLength: 5)
        let s1 = try BLIP2Model.build(config: c, stage: .one, shapes: shapes)
        let q = c.qformer.numQueryTokens
        func shape(_ g: Graph, _ o: String) -> [Int]? { g.output(o).map { g.type(of: $0).shape } }
        #expect(shape(s1, "vision_last_hidden_state") == [3, c.vision.tokens, c.vision.hidden])
        #expect(shape(s1, "qformer_last_hidden_state") == [3, q, c.qformer.hidden])
        #expect(shape(s1, "image_feats") == [3, q, c.qformer.embedDim])
        #expect(shape(s1, "sim_i2t") == [3, 3])
        #expect(shape(s1, "itm_logits") == [9, 2])
        #expect(shape(s1, "itg_logits") == [3, 7, c.qformer.vocabulary])
        for loss in ["loss", "loss_itc", "loss_itm", "loss_itg"] { #expect(shape(s1, loss) == []) }

        let s2 = try BLIP2Model.build(config: c, stage: .two, shapes: shapes)
        #expect(shape(s2, "language_projection_output") == [3, q, c.llm.hidden])
        #expect(shape(s2, "qformer_last_hidden_state") == [3, q, c.qformer.hidden])
        #expect(shape(s2, "logits") == (llm == .t5 ? [3, 5, c.llm.vocabulary] : [3, q + 7, c.llm.vocabulary]))
        #expect(shape(s2, "loss") == [])
    }

    @Test(arguments: [LLMKind.opt, .t5, .llama])
    func paperConfigBuildsWithPaperShapes(_ llm: LLMKind) throws {
        let c = BLIP2Config.paper(llm: llm)
        // OPT and T5 reuse the graphs the count tests build (building ViT-g + an LLM takes a while in debug).
        let g = llm == .opt ? try PaperGraphs.stage2OPT.get() : llm == .t5 ? try PaperGraphs.stage2T5.get()
            : try BLIP2Model.build(config: c, stage: .two, shapes: BLIP2Shapes(batch: 1, textLength: 4, targetLength: 3))
        #expect(g.type(of: g.output("vision_last_hidden_state")!).shape == [1, 257, 1408])
        #expect(g.type(of: g.output("qformer_last_hidden_state")!).shape == [1, 32, 768])
        #expect(g.type(of: g.output("language_projection_output")!).shape == [1, 32, c.llm.hidden])
    }

    @Test func inconsistentConfigIsAClearError() throws {
        var c = BLIP2Config.tiny()
        c.vision.patchSize = 5
        #expect(throws: GraphError.self) { try BLIP2Model.build(config: c, stage: .one) }
        var d = BLIP2Config.tiny()
        d.qformer.heads = 3
        #expect(throws: GraphError.self) { try BLIP2Model.build(config: d, stage: .two) }
        #expect(throws: GraphError.self) { try BLIP2Model.build(config: .tiny(), stage: .one, shapes: BLIP2Shapes(batch: 1)) }
    }

    @Test func everyNodeCarriesAScopeAndParametersUseHuggingFaceNames() throws {
        let g = try BLIP2Model.build(config: .test(), stage: .one)
        let names = Set(g.parameters.map(\.name))
        for n in ["vision_model.embeddings.patch_embedding.weight", "vision_model.encoder.layers.1.self_attn.qkv.bias",
                  "vision_model.post_layernorm.weight", "query_tokens", "qformer.layernorm.bias",
                  "qformer.encoder.layer.2.crossattention.attention.key.weight", "qformer.encoder.layer.1.attention.attention.query.weight",
                  "qformer.encoder.layer.1.output_query.LayerNorm.weight", "qformer.encoder.layer.1.intermediate.dense.weight",
                  "embeddings.word_embeddings.weight", "cls.predictions.bias", "itm_head.weight", "temp"] {
            #expect(names.contains(n), "missing \(n)")
        }
        // cross-attention every second layer only
        #expect(!names.contains("qformer.encoder.layer.1.crossattention.attention.key.weight"))
        #expect(g.type(of: g.parameters.first { $0.name == "qformer.encoder.layer.0.crossattention.attention.key.weight" }!.value).shape == [32, 24])
        #expect(g.type(of: g.parameters.first { $0.name == "vision_model.encoder.layers.0.self_attn.qkv.bias" }!.value).shape == [72])
        let unscoped = g.nodes.filter { ![.input, .parameter, .constant].contains($0.op) && $0.scope.isEmpty }
        #expect(unscoped.isEmpty, "nodes without scope: \(unscoped.prefix(3).map(\.op.mnemonic))")
    }

    @Test func tinyStage1And2RunOnTheInterpreter() throws {
        for stage in BLIP2Stage.allCases {
            let c = BLIP2Config.test()
            let g = try BLIP2Model.build(config: c, stage: stage, mode: .eval, shapes: BLIP2Shapes(batch: 2, textLength: 5))
            let out = try runInterpreter(g, c, stage: stage)
            let loss = out["loss"]!.scalar
            #expect(loss.isFinite && loss > 0)
            if stage == .one {
                let parts = ["loss_itc", "loss_itm", "loss_itg"].map { out[$0]!.scalar }
                #expect(abs(parts.reduce(0, +) - loss) < 1e-4)
            }
        }
    }
}
