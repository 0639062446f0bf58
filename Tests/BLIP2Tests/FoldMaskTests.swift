import BLIP2
import GraphIR
import GraphPasses
import Testing

/// The stage-1 masks built as ordinary ops are what `fold-masks` recognises: folding gives back exactly the
/// attributes the model emits directly, and all three graphs compute the same losses.
@Suite struct FoldMaskTests {
    static func selfAttentionMasks(_ g: Graph) -> [String: AttentionMask] {
        var out: [String: AttentionMask] = [:]
        for n in g.nodes where n.op == .attention && n.scope.hasSuffix(".attention") {
            out[n.scope] = n.attributes.mask("mask")
        }
        return out
    }

    @Test func foldingTheTensorMasksGivesTheAttributes() throws {
        let c = BLIP2Config.test()
        let shapes = BLIP2Shapes(batch: 2, textLength: 5)
        let attribute = try BLIP2Model.build(config: c, stage: .one, mode: .eval, shapes: shapes)
        let tensor = try BLIP2Model.build(config: c, stage: .one, mode: .eval, shapes: shapes, maskStyle: .additiveTensor)
        #expect(Self.selfAttentionMasks(tensor).values.allSatisfy { $0 == AttentionMask(.none) })
        let folded = try foldMasks(tensor)
        let expected = Self.selfAttentionMasks(attribute)
        #expect(expected.count == 3 * c.qformer.layers)
        #expect(Self.selfAttentionMasks(folded) == expected)
        #expect(!folded.nodes.contains { $0.op == .attention && $0.operands.count > 4 }, "a bias operand survived")

        let params = attribute.initialParameters(seed: 5)
        let inputs = sampleInputs(attribute, c, stage: .one, seed: 2)
        let losses = try [attribute, tensor, folded].map { g in
            try Interpreter().run(g, inputs: inputs, parameters: params)
        }
        for name in ["loss_itc", "loss_itm", "loss_itg"] {
            let values = losses.map { $0[name]!.scalar }
            #expect(abs(values[0] - values[1]) < 1e-5 && abs(values[0] - values[2]) < 1e-5, "\(name): \(values)")
        }
    }
}
