import Foundation
import GraphIR
import GraphNN
import GraphRuntime
import GraphIO
import BLIP2

/// Held-out evaluation of a stage-1 Q-Former: ITC retrieval (strict and caption-aware), ITM accuracy.
/// Its graphs share the training store, so each evaluation sees the current weights.
final class Stage1Evaluator {
    let pipeline: TinyPipeline
    let features: FeatureCache
    let imageExe: Executable
    let textExe: Executable
    let itmExe: Executable
    let batch: Int

    init(pipeline: TinyPipeline, store: ParameterStore, features: FeatureCache) throws {
        self.pipeline = pipeline
        self.features = features
        let c = pipeline.recipe.config, e = pipeline.recipe.evalBatch, t = pipeline.recipe.qformerTextLength
        let q = c.qformer
        batch = e
        func imageInput(_ g: Graph, _ nn: Layers) throws -> Value {
            let f = try g.input("image", [e] + features.shape)
            return try g.scope("vision_model") { try nn.layerNorm(f, name: "post_layernorm", eps: c.vision.eps) }
        }
        // Image side: the query-only pass (equal to the query rows of ITC's block-masked joint pass).
        let gi = Graph(name: "stage1_eval_image")
        let ni = Layers(gi, role: .trainable).sharing()
        let zi = try QFormer.run(ni, q, QFormerPass(queries: QFormer.queryTokens(ni, q, batch: e), textIds: nil, image: imageInput(gi, ni)))
        gi.output("image_feats", try Stage1.l2Normalize(gi, ni.linear(zi, outFeatures: q.embedDim, name: "vision_projection")))
        // Text side: the text-only pass, [CLS] row.
        let gt = Graph(name: "stage1_eval_text")
        let nt = Layers(gt, role: .trainable).sharing()
        let ids = try gt.input("input_ids", [e, t], .i32)
        let mask = try gt.input("attention_mask", [e, t], .i32)
        let ht = try QFormer.run(nt, q, QFormerPass(queries: nil, textIds: ids, mask: .none, lens: gt.reduceSum(mask, axes: [1]), image: nil))
        let cls = try gt.reshape(gt.slice(ht, axis: 1, 0..<1), [e, q.hidden])
        gt.output("text_feat", try Stage1.l2Normalize(gt, nt.linear(cls, outFeatures: q.embedDim, name: "text_projection")))
        // ITM: the bi-directional joint pass, head averaged over the query rows.
        let gm = Graph(name: "stage1_eval_itm")
        let nm = Layers(gm, role: .trainable).sharing()
        let image = try imageInput(gm, nm)
        let mids = try gm.input("input_ids", [e, t], .i32)
        let mmask = try gm.input("attention_mask", [e, t], .i32)
        let lens = try gm.add(gm.reduceSum(mmask, axes: [1]), gm.constant(Double(q.numQueryTokens), shape: [], .i32))
        let hm = try QFormer.run(nm, q, QFormerPass(queries: QFormer.queryTokens(nm, q, batch: e), textIds: mids, mask: .none, lens: lens, image: image))
        let perQuery = try nm.linear(gm.slice(hm, axis: 1, 0..<q.numQueryTokens), outFeatures: 2, name: "itm_head")
        gm.output("itm_logits", try gm.reduceMean(perQuery, axes: [1]))
        let compiler = pipeline.settings.compiler
        imageExe = try compiler.forward(gi, store: store)
        textExe = try compiler.forward(gt, store: store)
        itmExe = try compiler.forward(gm, store: store)
    }

    /// ITC similarities `sim[i][j]` = max over queries of ⟨image_i,k, text_j⟩ for the first `n` held-out items.
    func similarity(_ n: Int) throws -> [[Float]] {
        let held = pipeline.heldOut, recipe = pipeline.recipe
        let q = recipe.config.qformer.numQueryTokens, d = recipe.config.qformer.embedDim
        var img: [[Float]] = [], txt: [[Float]] = []
        try pipeline.batched(n, batch: batch) { idx, real in
            let fi = try imageExe.run(floats: ["image": features.batch(features.heldOut, idx)]).floats("image_feats")
            img += rows(fi, width: q * d).prefix(real)
            let text = recipe.qformerText(idx.map { held.captions[$0] })
            let ft = try textExe.run(["input_ids": text.ids, "attention_mask": text.mask]).floats("text_feat")
            txt += rows(ft, width: d).prefix(real)
        }
        return maxOverQueriesSimilarity(images: img.flatMap { $0 }, texts: txt.flatMap { $0 }, queries: q, width: d)
    }

    func evaluate(limit: Int, rerank: Int? = nil) throws -> [String: Double] {
        let n = min(limit, pipeline.heldOut.count)
        let caps = Array(pipeline.heldOut.captions.prefix(n))
        let sim = try similarity(n)
        let strict = retrievalRecall(sim: sim, captions: caps, ks: [1, 5], strict: true)
        let lenient = retrievalRecall(sim: sim, captions: caps, ks: [1, 5], strict: false)
        // ITM: each image with its own caption (match) and with its most similar differing caption (no match).
        var pairsImage: [Int] = [], pairsText: [Int] = [], labels: [Int] = []
        for i in 0..<n {
            pairsImage += [i, i]
            let neg = (0..<n).filter { caps[$0] != caps[i] }.max { sim[i][$0] < sim[i][$1] } ?? i
            pairsText += [i, neg]
            labels += [1, 0]
        }
        let itm = try itmLogits(images: pairsImage, texts: pairsText.map { caps[$0] })
        let right = (0..<itm.count).filter { (itm[$0].match > itm[$0].noMatch ? 1 : 0) == labels[$0] }.count
        var result = ["t2i_r1": strict.t2i[1]!, "t2i_r5": strict.t2i[5]!, "i2t_r1": strict.i2t[1]!, "i2t_r5": strict.i2t[5]!,
                      "t2i_r1_caption": lenient.t2i[1]!, "t2i_r5_caption": lenient.t2i[5]!,
                      "i2t_r1_caption": lenient.i2t[1]!, "i2t_r5_caption": lenient.i2t[5]!,
                      "itm_acc": Double(right) / Double(max(itm.count, 1))]
        if let k = rerank, k > 0 {
            // LAVIS retrieval: the top-k by ITC are re-scored by ITM match logit + ITC similarity.
            var reranked = sim
            for i in 0..<n {
                let top = (0..<n).sorted { sim[i][$0] > sim[i][$1] }.prefix(k)
                let l = try itmLogits(images: [Int](repeating: i, count: top.count), texts: top.map { caps[$0] })
                for (slot, j) in top.enumerated() { reranked[i][j] = 1e3 + Float(l[slot].match) + sim[i][j] }
            }
            // Text-to-image re-ranks columns the same way.
            var rerankedT2I = sim
            for j in 0..<n {
                let top = (0..<n).sorted { sim[$0][j] > sim[$1][j] }.prefix(k)
                let l = try itmLogits(images: Array(top), texts: [String](repeating: caps[j], count: top.count))
                for (slot, i) in top.enumerated() { rerankedT2I[i][j] = 1e3 + Float(l[slot].match) + sim[i][j] }
            }
            let i2t = retrievalRecall(sim: reranked, captions: caps, ks: [1, 5], strict: true)
            let t2i = retrievalRecall(sim: rerankedT2I, captions: caps, ks: [1, 5], strict: true)
            result["i2t_r1_itm"] = i2t.i2t[1]!
            result["i2t_r5_itm"] = i2t.i2t[5]!
            result["t2i_r1_itm"] = t2i.t2i[1]!
            result["t2i_r5_itm"] = t2i.t2i[5]!
        }
        return result
    }

    /// ITM logits (no match, match) for image/text pairs, in order.
    func itmLogits(images: [Int], texts: [String]) throws -> [(noMatch: Float, match: Float)] {
        var out: [(Float, Float)] = []
        let recipe = pipeline.recipe
        try pipeline.batched(images.count, batch: batch) { idx, real in
            let text = recipe.qformerText(idx.map { texts[$0] })
            let r = try itmExe.run(floats: ["image": features.batch(features.heldOut, idx.map { images[$0] })],
                                   others: ["input_ids": text.ids, "attention_mask": text.mask])
            let logits = try r.floats("itm_logits")
            for k in 0..<real { out.append((logits[2 * k], logits[2 * k + 1])) }
        }
        return out
    }
}

extension TinyPipeline {
    /// Held-out retrieval and ITM numbers of the stage-1 checkpoint.
    /// `rerank`: also re-rank the ITC top-k with the ITM head (adds `*_itm` metrics).
    public func evaluateStage1(features: FeatureCache, limit: Int = 1000, rerank: Int? = nil) throws -> [String: Double] {
        let store = ParameterStore()
        let ck = try Checkpoint.load(from: settings.outDir.appendingPathComponent("stage1"))
        try store.load(ck.state.filter { !$0.key.hasPrefix("adam.") && !$0.key.hasPrefix("accum.") })
        return try Stage1Evaluator(pipeline: self, store: store, features: features).evaluate(limit: limit, rerank: rerank)
    }

    /// Generates captions for the first `limit` held-out images with the stage-2 model through BLIP-2's
    /// generation graphs (prefill + one-token decode step with a KV cache): greedy, or beam search with `beams` > 1.
    public func generateCaptions(limit: Int, beams: Int = 1, lengthPenalty: Double = 1) throws -> [String] {
        let rows = beams > 1 ? beams : recipe.evalBatch
        let tok = recipe.tokenizer
        var graphs = try GenerationGraphs.build(config: config, rows: rows, promptLength: 1, maxNewTokens: recipe.lmTextLength - 1)
        graphs.prefill = try settings.compiler.pipeline("inference", graphs.prefill)
        graphs.decode = try settings.compiler.pipeline("inference", graphs.decode)
        let store = ParameterStore()
        try loadFrozen(.vision, into: store, for: graphs.prefill)
        try loadFrozen(.languageModel, into: store, for: graphs.prefill)
        let ck = try Checkpoint.load(from: settings.outDir.appendingPathComponent("stage2"))
        for p in graphs.prefill.parameters + graphs.decode.parameters where p.role == .trainable {
            guard let t = ck.state[p.name] else { throw TrainingError("the stage-2 checkpoint lacks '\(p.name)'") }
            try store.set(p.name, t)
        }
        let session = Session(parameters: store, options: settings.compiler.runtime())
        let generator = Generator(graphs: graphs) { g, inputs in try session.run(g, inputs) }
        let options = GenerationSettings(maxNewTokens: recipe.lmTextLength - 1, numBeams: max(beams, 1), lengthPenalty: lengthPenalty,
                                         stopTokens: [tok.eos])
        let n = min(limit, heldOut.count), s = heldOut.imageSize
        func text(_ g: GeneratedSequence) -> String { tok.decode(g.tokens, stop: [tok.eos, tok.pad]) }
        var captions: [String] = []
        if beams <= 1 {
            try batched(n, batch: rows) { idx, real in
                let pixels = Tensor(floats: heldOut.pixelBatch(idx), shape: [rows, 3, s, s])
                let out = try generator.greedy(pixels: pixels, prompt: [[Int]](repeating: [tok.bos], count: rows), settings: options)
                captions += out.prefix(real).map(text)
            }
        } else {
            for i in 0..<n {
                let pixels = Tensor(floats: heldOut.pixelBatch([i]), shape: [1, 3, s, s])
                captions.append(text(try generator.beamSearch(pixels: pixels, prompt: [tok.bos], settings: options)))
            }
        }
        return captions
    }
}

/// `sim[i][j]` = max over the q query vectors of image i of their dot product with text j (ITC at inference,
/// without the temperature). Flat `[n, q, d]` and `[m, d]` inputs; plain loops over unsafe pointers.
func maxOverQueriesSimilarity(images: [Float], texts: [Float], queries q: Int, width d: Int) -> [[Float]] {
    let n = images.count / (q * d), m = texts.count / d
    return images.withUnsafeBufferPointer { im in
        texts.withUnsafeBufferPointer { tx in
            (0..<n).map { i in
                (0..<m).map { j in
                    var best = -Float.infinity
                    for k in 0..<q {
                        var s: Float = 0
                        let a = (i &* q &+ k) &* d, b = j &* d
                        for c in 0..<d { s += im[a &+ c] * tx[b &+ c] }
                        best = max(best, s)
                    }
                    return best
                }
            }
        }
    }
}
