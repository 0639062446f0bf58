import BLIP2
import GraphIR
import Testing

/// The three stage-1 masks, read off the built graph and evaluated in the interpreter, against the matrices
/// of spec §4.0 (Q = 3 queries, T = 4 text slots, the last one padding).
@Suite struct MaskTests {
    static func smallConfig() -> BLIP2Config {
        var c = BLIP2Config.test()
        c.qformer.numQueryTokens = 3
        return c
    }

    /// (mask attribute, lens operand value of batch row 0) of the first self-attention node of a pass.
    static func maskOfPass(_ pass: String) throws -> (AttentionMask, Int?) {
        let c = smallConfig()
        let g = try BLIP2Model.build(config: c, stage: .one, mode: .eval, shapes: BLIP2Shapes(batch: 2, textLength: 4))
        let scope = "stage1.\(pass).qformer.encoder.layer.0.attention"
        let nodes = g.nodes.enumerated().filter { $0.element.op == .attention && $0.element.scope.hasPrefix(scope) }
        let (index, node) = try #require(nodes.first)
        let mask = try #require(node.attributes.mask("mask"))
        // Every self-attention layer of the pass uses the same mask.
        let all = g.nodes.filter { $0.op == .attention && $0.scope.hasPrefix("stage1.\(pass).") && $0.scope.hasSuffix(".attention") }
        #expect(all.count == c.qformer.layers)
        #expect(all.allSatisfy { $0.attributes.mask("mask") == mask })
        guard mask.keyPadding else { return (mask, nil) }
        // Rows: 4 text slots with the last padded (batch row 1 of sampleInputs is the shorter one).
        var inputs = sampleInputs(g, c, stage: .one)
        inputs["attention_mask"] = Tensor(ints: [1, 1, 1, 0, 1, 1, 1, 1], shape: [2, 4])
        let values = try Interpreter().evaluateAll(g, inputs: inputs, parameters: g.initialParameters(seed: 1))
        let lens = try #require(values[node.operands[3].id])
        _ = index
        return (mask, Int(lens.scalars[0]))
    }

    /// Evaluates `mask` with `attention_probs` on zero queries/keys: a key is visible iff its probability is > 0.
    static func matrix(_ mask: AttentionMask, length: Int, lens: Int?) throws -> [[Int]] {
        let g = Graph()
        let q = try g.constant(0, shape: [1, 1, length, 2])
        let lensValue = try lens.map { try g.constant(Double($0), shape: [1], .i32) }
        g.output("p", try g.attentionProbs(q, q, mask: mask.pattern, lens: lensValue))
        let p = try #require(try Interpreter().run(g, inputs: [:], parameters: [:])["p"])
        return (0..<length).map { i in (0..<length).map { j in p.scalars[i * length + j] > 0 ? 1 : 0 } }
    }

    @Test func itcIsUniModal() throws {
        let (mask, lens) = try Self.maskOfPass("itc")
        #expect(mask.pattern == .block([3, 4]))
        #expect(lens == 6)
        #expect(try Self.matrix(mask, length: 7, lens: lens) == [
            [1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0],
            [0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 0],
        ])
    }

    @Test func itmIsBidirectional() throws {
        let (mask, lens) = try Self.maskOfPass("itm")
        #expect(mask.pattern == .none)
        #expect(lens == 6)
        #expect(try Self.matrix(mask, length: 7, lens: lens) == [[Int]](repeating: [1, 1, 1, 1, 1, 1, 0], count: 7))
    }

    @Test func itgIsMultiModalCausal() throws {
        let (mask, lens) = try Self.maskOfPass("itg")
        #expect(mask.pattern == .prefixCausal(3))
        #expect(lens == 6)
        #expect(try Self.matrix(mask, length: 7, lens: lens) == [
            [1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0],
            [1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 0],
        ])
    }

    @Test func crossAttentionSeesEveryImageTokenFromQueryRowsOnly() throws {
        let c = Self.smallConfig()
        let g = try BLIP2Model.build(config: c, stage: .one, mode: .eval, shapes: BLIP2Shapes(batch: 2, textLength: 4))
        let cross = g.nodes.filter { $0.op == .attention && $0.scope.contains(".crossattention") }
        // 3 passes × layers 0 and 2 of 3 (frequency 2).
        #expect(cross.count == 3 * 2)
        for n in cross {
            #expect(n.attributes.mask("mask") == AttentionMask(.none))
            #expect(g.type(of: n.operands[0]).shape[2] == 3)                       // query rows only
            #expect(g.type(of: n.operands[1]).shape[2] == c.vision.tokens)         // all image tokens
        }
    }
}
