import BLIP2
import GraphIR
import Testing

/// Paper-size graphs are built (no weights) once per LLM and shared by the count tests.
enum PaperGraphs {
    static let stage1 = Result { try BLIP2Model.build(config: .paper(llm: .opt), stage: .one, shapes: BLIP2Shapes(batch: 2, textLength: 32)) }
    static let stage2OPT = Result { try BLIP2Model.build(config: .paper(llm: .opt), stage: .two, shapes: BLIP2Shapes(batch: 1, textLength: 8)) }
    static let stage2T5 = Result { try BLIP2Model.build(config: .paper(llm: .t5), stage: .two, shapes: BLIP2Shapes(batch: 1, textLength: 8, targetLength: 4)) }
}

@Suite struct ParameterCountTests {
    @Test func paperVisionTowerMatchesTheSpec() throws {
        let r = ParameterReport(try PaperGraphs.stage2OPT.get())
        // Spec §1.3: vision total (HF layout, fused qkv bias) 985,952,256, of which post_layernorm 2,816.
        #expect(r.count("vision encoder") == 985_949_440)
        #expect(r.count("post_layernorm") == 2_816)
    }

    @Test func paperStage2OPTMatchesTable2() throws {
        let r = ParameterReport(try PaperGraphs.stage2OPT.get())
        #expect(r.qformerWithQueries == 105_162_240)
        #expect(r.count("language_projection") == 1_968_640)
        // Table 2 "trainable" = Q-Former + queries + projection (107M); post_layernorm is trainable too.
        #expect(r.qformerWithQueries + r.count("language_projection") == 107_130_880)
        #expect(r.total(role: .trainable) == 107_130_880 + 2_816)
        #expect(r.count("LLM") == 2_651_678_720)
        // Whole Salesforce/blip2-opt-2.7b checkpoint.
        #expect(r.total() == 3_744_761_856)
        #expect(r.total(role: .frozen) == 985_949_440 + 2_651_678_720)
    }

    @Test func paperStage2FlanT5MatchesTable2() throws {
        let r = ParameterReport(try PaperGraphs.stage2T5.get())
        #expect(r.qformerWithQueries == 105_162_240)
        #expect(r.count("language_projection") == 1_574_912)
        #expect(r.qformerWithQueries + r.count("language_projection") == 106_737_152)
        #expect(r.count("LLM") == 2_849_757_184)
        #expect(r.total() == 3_942_446_592)
    }

    @Test func paperStage1CountsTheWholeQFormer() throws {
        let r = ParameterReport(try PaperGraphs.stage1.get())
        // Spec §1.3 [calc]: 186,702,654 = Q-Former incl. text side, queries, [DEC] row, LM head, ITC/ITM heads
        // (the paper rounds to 188M). post_layernorm (2,816) is trainable as well.
        #expect(r.total(role: .trainable) == 186_702_654 + 2_816)
        #expect(r.count("qformer text embeddings") == 23_441_664 + 393_216)
        #expect(r.count("qformer LM head") == 622_651)
        #expect(r.count("ITC/ITM heads") == 395_267)
        #expect(r.count("qformer cross-attention") == 6 * 3_346_944)
        #expect(r.count("qformer self-attention") == 12 * 2_363_904)
        #expect(r.count("qformer query FFN") == 12 * 4_723_968)
        #expect(r.count("qformer text FFN") == 12 * 4_723_968)
        #expect(r.count("LLM") == 0)
    }
}
