import GraphIR
import GraphNN
import Testing
@testable import GraphPasses

/// fold-masks on the masks GraphNN builds from ordinary ops (`Layers.additiveMask`): every pattern, with and
/// without key padding, folds back to exactly the attribute it was built from, and no [.., L, L] tensor remains.
@Suite struct FoldMasksTests {
    static let patterns: [MaskPattern] = [.none, .causal, .prefixCausal(3), .block([2, 4]), .block([1, 2, 3])]

    @Test(arguments: patterns, [false, true])
    func foldsLayerMasks(_ pattern: MaskPattern, _ padded: Bool) throws {
        let (b, h, l, d) = (2, 2, 6, 4)
        let g = Graph()
        let q = try g.input("q", [b, h, l, d]), k = try g.input("k", [b, h, l, d]), v = try g.input("v", [b, h, l, d])
        let lens = padded ? try g.input("lens", [b], .i32) : nil
        let bias = try Layers(g, role: .trainable).additiveMask(pattern, lq: l, lk: l, lens: lens)
        g.output("out", try g.attention(q, k, v, bias: bias))
        let folded = try foldMasks(g)
        try Verifier.verify(folded)
        let att = try #require(folded.nodes.first { $0.op == .attention })
        #expect(att.attributes.mask("mask") == AttentionMask(pattern, keyPadding: padded))
        #expect(att.operands.count == (padded ? 4 : 3))
        #expect(!folded.nodes.contains { $0.type.rank >= 2 && $0.type.shape.suffix(2) == [l, l] })
        var (inputs, _) = randomBindings(g, seed: 5)
        // Lengths that leave every row a visible key (see FoldMasks.swift on rows that padding hides whole).
        inputs["lens"] = Tensor(ints: [4, 6], shape: [2])
        #expect(try maxOutputDifference(g, folded, inputs: inputs, parameters: [:]) == 0)
    }

    @Test func leavesABiasThatHidesAWholeRowAlone() throws {
        // Every key hidden for query 0: a -1e4 bias averages the values there, the symbolic mask would give 0.
        let g = Graph()
        let q = try g.input("q", [1, 1, 3, 2])
        let row = try g.iota([3, 3], axis: 0)
        let bias = try g.select(try g.binary(.gt, row, try g.constant(0, shape: [], .i32)),
                                try g.constant(0, shape: [3, 3]), try g.constant(-1e4, shape: [3, 3]))
        g.output("out", try g.attention(q, q, q, bias: bias))
        let folded = try foldMasks(g)
        #expect(folded.nodes.first { $0.op == .attention }?.operands.count == 4)
    }
}
