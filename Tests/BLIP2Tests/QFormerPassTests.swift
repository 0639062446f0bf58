import Testing
import Foundation
import GraphIR
import GraphNN
import GraphAutodiff
import BLIP2

/// `imageIndex` (keys/values projected per image, then gathered) must equal cross-attending to gathered images:
/// outputs and every parameter gradient, including the scatter back into the trainable post-layernorm.
@Suite struct QFormerPassTests {
    /// A pair pass over `rows` (image, text) pairs; `gatherFirst` builds the plain form.
    func pairGraph(_ c: QFormerConfig, images: Int, rows: Int, textLength: Int, gatherFirst: Bool) throws -> (Graph, [String]) {
        let g = Graph(name: gatherFirst ? "gathered_images" : "gathered_keys")
        let nn = Layers(g).sharing()
        let raw = try g.input("image", [images, 5, 24])
        let image = try nn.layerNorm(raw, name: "post_layernorm", eps: 1e-6)
        let index = try g.input("image_index", [rows], .i32)
        let ids = try g.input("input_ids", [rows, textLength], .i32)
        let pass = QFormerPass(queries: try QFormer.queryTokens(nn, c, batch: rows), textIds: ids, image: gatherFirst ? try g.gather(image, index, axis: 0) : image,
                               imageIndex: gatherFirst ? nil : index)
        let hidden = try QFormer.run(nn, c, pass)
        let weights = try g.input("weights", g.type(of: hidden).shape)
        let loss = try g.reduceSum(g.mul(hidden, weights), axes: [0, 1, 2])
        g.output("hidden", hidden)
        g.output("loss", loss)
        return (g, g.parameters.map(\.name).sorted())
    }

    @Test func gatheredKeysEqualGatheredImages() throws {
        let c = BLIP2Config.test().qformer
        let (images, rows, t) = (3, 5, 4)
        let (plain, names) = try pairGraph(c, images: images, rows: rows, textLength: t, gatherFirst: true)
        let (fast, fastNames) = try pairGraph(c, images: images, rows: rows, textLength: t, gatherFirst: false)
        #expect(names == fastNames)
        let params = plain.initialParameters(seed: 3)
        let hiddenCount = plain.type(of: plain.output("hidden")!).count
        let inputs: [String: Tensor] = [
            "image": Tensor(.f32, [images, 5, 24], (0..<(images * 120)).map { sin(Double($0) * 0.37) }),
            "image_index": Tensor(ints: [2, 0, 2, 1, 0], shape: [rows]),
            "input_ids": Tensor(ints: (0..<(rows * t)).map { 3 + $0 % 50 }, shape: [rows, t]),
            "weights": Tensor(.f32, plain.type(of: plain.output("hidden")!).shape, (0..<hiddenCount).map { cos(Double($0) * 0.11) }),
        ]
        func run(_ g: Graph) throws -> [String: Tensor] {
            let grads = try gradients(of: g.output("loss")!, in: g, wrt: names)
            for (name, v) in grads.gradients { grads.graph.output("grad." + name, v) }
            return try Interpreter().run(grads.graph, inputs: inputs, parameters: params)
        }
        let a = try run(plain), b = try run(fast)
        var worst = 0.0
        for (name, x) in a where name == "hidden" || name.hasPrefix("grad.") {
            let y = try #require(b[name])
            for (u, v) in zip(x.scalars, y.scalars) { worst = max(worst, abs(u - v) / max(1, abs(u))) }
        }
        #expect(a.keys.filter { $0.hasPrefix("grad.") }.count == names.count)
        #expect(a["grad.post_layernorm.weight"].map { $0.scalars.contains { $0 != 0 } } == true)
        #expect(worst < 1e-5, "worst relative difference \(worst)")
    }
}

/// `itmPairs` runs the ITM triples of the first m items only: their logits must be exactly the matching rows of
/// the full ITM pass (rows of the pass are independent), and the ITM loss their cross-entropy.
@Suite struct ITMPairsTests {
    @Test func subsetTriplesEqualTheFullPassRows() throws {
        let c = BLIP2Config.test()
        let (b, m) = (4, 2)
        func build(_ pairs: Int?) throws -> Graph {
            try BLIP2Model.build(config: c, stage: .one, mode: .eval, shapes: BLIP2Shapes(batch: b, textLength: 6, itmPairs: pairs),
                                 negatives: .given)
        }
        let full = try build(nil), part = try build(m)
        #expect(part.type(of: try #require(part.output("itm_logits"))).shape == [3 * m, 2])
        var inputs = sampleInputs(full, c, stage: .one)
        inputs["negative_images"] = Tensor(ints: [2, 0, 3, 1], shape: [b])
        inputs["negative_texts"] = Tensor(ints: [3, 2, 0, 0], shape: [b])
        let params = full.initialParameters(seed: 5)
        let a = try Interpreter().run(full, inputs: inputs, parameters: params)
        let p = try Interpreter().run(part, inputs: inputs, parameters: params)
        let fullLogits = try #require(a["itm_logits"]).scalars, partLogits = try #require(p["itm_logits"]).scalars
        // Triple t of item i sits at row t·b + i in the full pass and t·m + i in the subset.
        var worst = 0.0
        for t in 0..<3 { for i in 0..<m { for k in 0..<2 {
            worst = max(worst, abs(fullLogits[(t * b + i) * 2 + k] - partLogits[(t * m + i) * 2 + k]))
        } } }
        #expect(worst < 1e-5, "worst logit difference \(worst)")
        // The loss is the mean cross-entropy over the 3m rows (labels: m matches, then 2m non-matches).
        var ce = 0.0
        for r in 0..<(3 * m) {
            let (l0, l1) = (partLogits[2 * r], partLogits[2 * r + 1])
            let top = max(l0, l1), lse = top + log(exp(l0 - top) + exp(l1 - top))
            ce += lse - (r < m ? l1 : l0)
        }
        #expect(abs(try #require(p["loss_itm"]).scalars[0] - ce / Double(3 * m)) < 1e-5)
        #expect(throws: GraphError.self) { try build(b + 1) }
    }
}
