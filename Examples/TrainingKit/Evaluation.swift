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
        gi.output("image_feats", try PretrainModels.l2Normalize(gi, ni.linear(zi, outFeatures: q.embedDim, name: "vision_projection")))
        // Text side: the text-only pass, [CLS] row.
        let gt = Graph(name: "stage1_eval_text")
        let nt = Layers(gt, role: .trainable).sharing()
        let ids = try gt.input("input_ids", [e, t], .i32)
        let mask = try gt.input("attention_mask", [e, t], .i32)
        let ht = try QFormer.run(nt, q, QFormerPass(queries: nil, textIds: ids, mask: .none, lens: gt.reduceSum(mask, axes: [1]), image: nil))
        let cls = try gt.reshape(gt.slice(ht, axis: 1, 0..<1), [e, q.hidden])
        gt.output("text_feat", try PretrainModels.l2Normalize(gt, nt.linear(cls, outFeatures: q.embedDim, name: "text_projection")))
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

    /// Generates captions for the first `limit` held-out images with the stage-2 model (greedy, or beam search
    /// with `beams` > 1), returning them in order.
    public func generateCaptions(features: FeatureCache, limit: Int, beams: Int = 1, lengthPenalty: Double = 1) throws -> [String] {
        let e = recipe.evalBatch, t = recipe.lmTextLength
        let model = try BLIP2Model.build(config: config, stage: .two, mode: .eval, shapes: BLIP2Shapes(batch: e, textLength: t))
        let split = try frozenPrefix(model)
        let store = try stage2Store(for: split.rest)
        let exe = try settings.compiler.forward(split.rest, store: store)
        let decoder = CaptionDecoder(recipe: recipe, batch: e, featureName: split.boundary[0], executable: exe)
        let n = min(limit, heldOut.count)
        var captions: [String] = []
        if beams <= 1 {
            try batched(n, batch: e) { idx, real in
                captions += try decoder.greedy(features: features.batch(features.heldOut, idx)).prefix(real)
            }
        } else {
            let perBatch = max(1, e / beams)
            var start = 0
            while start < n {
                let images = Array(start..<min(start + perBatch, n))
                captions += try decoder.beam(features: features, images: images, beams: beams, lengthPenalty: lengthPenalty)
                start += perBatch
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

/// Autoregressive decoding with the stage-2 forward graph: each step re-runs the whole (short) sequence and
/// reads the logits at the last real position; the causal mask makes later slots irrelevant.
struct CaptionDecoder {
    let recipe: TinyRecipe
    let batch: Int
    let featureName: String
    let executable: Executable

    var q: Int { recipe.config.qformer.numQueryTokens }
    var v: Int { recipe.config.llm.vocabulary }
    var t: Int { recipe.lmTextLength }
    var tok: WordTokenizer { recipe.tokenizer }

    /// Log-probabilities of the next token after `prefixes` (each ≤ t tokens starting with [BOS]).
    func nextLogProbs(features: [Float], prefixes: [[Int]]) throws -> [[Double]] {
        var ids = [Double](repeating: Double(tok.pad), count: batch * t)
        var mask = [Double](repeating: 0, count: batch * t)
        for (r, p) in prefixes.enumerated() {
            for (k, id) in p.enumerated() { ids[r * t + k] = Double(id); mask[r * t + k] = 1 }
        }
        let out = try executable.run(floats: [featureName: features],
                                     others: ["input_ids": Tensor(.i32, [batch, t], ids), "attention_mask": Tensor(.i32, [batch, t], mask),
                                              "labels": Tensor(.i32, [batch, t], repeating: -100)])
        let logits = try out.floats("logits")
        return prefixes.enumerated().map { r, p in
            let base = (r * (q + t) + q + p.count - 1) * v
            let row = (0..<v).map { Double(logits[base + $0]) }
            let m = row.max()!
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            return row.map { $0 - lse }
        }
    }

    func greedy(features: [Float]) throws -> [String] {
        var seqs = [[Int]](repeating: [tok.bos], count: batch)
        var done = [Bool](repeating: false, count: batch)
        while seqs[0].count < t && done.contains(false) {
            let lp = try nextLogProbs(features: features, prefixes: seqs)
            for r in 0..<batch where !done[r] {
                let next = lp[r].indices.max { lp[r][$0] < lp[r][$1] }!
                seqs[r].append(next)
                if next == tok.eos { done[r] = true }
            }
        }
        return seqs.map { tok.decode(Array($0.dropFirst()), stop: [tok.eos, tok.pad]) }
    }

    /// Beam search with a length penalty (score / length^penalty), stopping at [EOS].
    func beam(features: FeatureCache, images: [Int], beams k: Int, lengthPenalty: Double) throws -> [String] {
        struct Hyp { var ids: [Int]; var score: Double; var done: Bool }
        var hyps = images.map { _ in [Hyp(ids: [tok.bos], score: 0, done: false)] }
        func norm(_ h: Hyp) -> Double { h.score / pow(Double(max(h.ids.count - 1, 1)), lengthPenalty) }
        for _ in 1..<t {
            if hyps.allSatisfy({ $0.allSatisfy(\.done) }) { break }
            var rowsImage: [Int] = [], rowsPrefix: [[Int]] = []
            for (i, hs) in hyps.enumerated() { for h in hs { rowsImage.append(images[i]); rowsPrefix.append(h.ids) } }
            while rowsImage.count < batch { rowsImage.append(images[0]); rowsPrefix.append([tok.bos]) }
            let lp = try nextLogProbs(features: features.batch(features.heldOut, rowsImage), prefixes: rowsPrefix)
            var row = 0
            for i in 0..<hyps.count {
                var candidates: [Hyp] = []
                for h in hyps[i] {
                    defer { row += 1 }
                    if h.done { candidates.append(h); continue }
                    let best = lp[row].indices.sorted { lp[row][$0] > lp[row][$1] }.prefix(k)
                    for id in best { candidates.append(Hyp(ids: h.ids + [id], score: h.score + lp[row][id], done: id == tok.eos)) }
                }
                hyps[i] = Array(candidates.sorted { norm($0) > norm($1) }.prefix(k))
            }
        }
        return hyps.map { hs in tok.decode(Array(hs.max { norm($0) < norm($1) }!.ids.dropFirst()), stop: [tok.eos, tok.pad]) }
    }
}
