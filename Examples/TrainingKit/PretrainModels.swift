import GraphIR
import GraphNN
import BLIP2

/// The sizes of the unimodal models pretrained for the tiny config before BLIP-2 training.
public struct PretrainSizes: Equatable {
    /// CLIP-style text tower: width, layers, heads (its weights are discarded after pretraining).
    public var textWidth = 128
    public var textLayers = 2
    public var textHeads = 4
    /// Shared contrastive embedding width.
    public var embedDim = 64
    /// Weight of the caption-word objective next to the contrastive loss (0, the default, leaves it out of the
    /// graph). 3 is the measured choice for fixed-template captions; on paraphrased captions it costs retrieval.
    public var wordWeight = 0.0
    public init() {}
}

/// Graphs for pretraining the frozen models of the tiny config.
///
/// BLIP-2's frozen image encoder was itself trained contrastively on image-text pairs (EVA-CLIP), so the tiny
/// ViT is trained the same way against a small text tower; the frozen LM is a decoder trained on caption text.
/// Parameter names are the BLIP-2 ones (`vision_model.*`, `language_model.*`) so the weights load into the
/// BLIP-2 graphs unchanged.
public enum PretrainModels {
    /// CLIP: `pixel_values` f32[B, C, S, S], `input_ids` i32[B, T] ([CLS] text [SEP] pad…), `lens` i32[B] →
    /// `loss` (symmetric InfoNCE over the batch with a learned temperature), `image_embeds`, `text_embeds`.
    ///
    /// With `sizes.wordWeight` > 0 the graph also takes `word_labels` i32[B, T] (the caption's ids with padding
    /// −100) and adds the caption-word objective: a linear head on all image tokens, laid end to end, predicts
    /// the caption's token at every position at once (a non-autoregressive captioner with a single linear
    /// layer); the loss is the mean cross-entropy over the real tokens. Why: in a batch of 128 captions, colour
    /// and position already tell almost every pair apart, so the contrastive loss hardly pushes the ViT to see
    /// shape kind, while each caption word's own loss does; the head reads every token, so the last block's
    /// patch outputs, which BLIP-2 reads and the class token never reaches, are trained too (Docs/Training.md,
    /// measured: held-out CLIP R@1 and a shape probe both rise).
    public static func clip(vision: VisionConfig, vocabulary: Int, textLength t: Int, batch b: Int,
                            sizes: PretrainSizes = PretrainSizes()) throws -> Graph {
        let g = Graph(name: "clip_pretrain")
        let nn = Layers(g, role: .trainable)
        let pixels = try g.input("pixel_values", [b, vision.channels, vision.imageSize, vision.imageSize])
        let ids = try g.input("input_ids", [b, t], .i32)
        let lens = try g.input("lens", [b], .i32)
        // The class token after the final norm, as CLIP pools its image tower.
        let image = try VisionEncoder.build(pixels, config: vision, encoder: nn, trainable: nn)
        let cls = try g.reshape(g.slice(image, axis: 1, 0..<1), [b, vision.hidden])
        let imageEmbeds = try Stage1.l2Normalize(g, nn.linear(cls, outFeatures: sizes.embedDim, name: "clip.visual_projection", bias: false))
        let textEmbeds = try g.scope("clip.text") { () -> Value in
            let w = sizes.textWidth
            var h = try nn.embedding(ids, vocabulary: vocabulary, dim: w, name: "token_embedding")
            h = try g.add(h, nn.parameter("position_embedding", [1, t, w], initializer: .normal(std: 0.01)))
            let spec = TransformerLayerSpec(layout: HeadLayout(heads: sizes.textHeads, headDim: w / sizes.textHeads),
                                            attentionScope: "self_attn", attentionNames: .opt, attentionNorm: "layer_norm1",
                                            ffnHidden: 4 * w, activation: .gelu, gated: false, ffnNames: ["fc1", "fc2"],
                                            ffnBias: true, ffnNorm: "layer_norm2", placement: .pre, norm: .layerNorm, eps: 1e-5)
            for i in 0..<sizes.textLayers {
                h = try g.scope("layers.\(i)") { try nn.transformerLayer(h, spec: spec, options: AttentionOptions(mask: .none, lens: lens)).output }
            }
            h = try nn.layerNorm(h, name: "final_layer_norm", eps: 1e-5)
            let first = try g.reshape(g.slice(h, axis: 1, 0..<1), [b, w])
            return try Stage1.l2Normalize(g, nn.linear(first, outFeatures: sizes.embedDim, name: "projection", bias: false))
        }
        // logit_scale = log(1/0.07) as in CLIP; the exponent is taken in the graph.
        let logitScale = try nn.parameter("clip.logit_scale", [], initializer: .constant(2.659260036932778))
        let logits = try g.mul(g.matmul(imageEmbeds, textEmbeds, transposeB: true), g.exp(logitScale))
        let targets = try g.iota([b], axis: 0)
        let loss = try g.scope("loss") { () -> Value in
            let i2t = try g.crossEntropy(logits: logits, labels: targets)
            let t2i = try g.crossEntropy(logits: g.transpose(logits, [1, 0]), labels: targets)
            return try g.binary(.mul, g.add(i2t, t2i), scalar: 0.5)
        }
        if sizes.wordWeight > 0 {
            let labels = try g.input("word_labels", [b, t], .i32)
            let tokens = g.type(of: image).shape.dropFirst().reduce(1, *)
            let words = try g.scope("word_loss") { () -> Value in
                let flat = try g.reshape(image, [b, tokens])
                let logits = try g.reshape(nn.linear(flat, outFeatures: t * vocabulary, name: "clip.word_head"), [b, t, vocabulary])
                return try nn.crossEntropyLoss(logits: logits, labels: labels)
            }
            g.output("loss_words", words)
            g.output("loss", try g.add(loss, g.binary(.mul, words, scalar: sizes.wordWeight)))
        } else {
            g.output("loss", loss)
        }
        g.output("image_embeds", imageEmbeds)
        g.output("text_embeds", textEmbeds)
        return g
    }

    /// Decoder LM: `input_ids` i32[B, T] ([BOS] text [EOS] pad…), `lens` i32[B] (real tokens), `labels` i32[B, T]
    /// (the ids with pad → −100) → `loss` (next-token cross-entropy on the text).
    ///
    /// With `prefixLength` P > 0 the text follows P context slots, `prefix_ids` i32[B, P], laid out exactly as
    /// stage 2 lays out the Q soft-prompt vectors ([prefix ; text], positions 0…P+T−1, the last prefix slot
    /// predicting [BOS]). The trainer fills the slots with some of the caption's content words, so the frozen LM
    /// learns to use what stands in those slots — the in-context ability BLIP-2 relies on in a real LLM.
    public static func languageModel(_ c: LLMConfig, textLength t: Int, batch b: Int, prefixLength p: Int = 0) throws -> Graph {
        let g = Graph(name: "lm_pretrain")
        let nn = Layers(g, role: .trainable)
        let ids = try g.input("input_ids", [b, t], .i32)
        let lens = try g.input("lens", [b], .i32)
        let labels = try g.input("labels", [b, t], .i32)
        var x = try DecoderLM.embedTokens(nn, c, ids: ids)
        var fullLabels = labels, keyLens = lens
        if p > 0 {
            let prefix = try g.input("prefix_ids", [b, p], .i32)
            x = try g.concat([DecoderLM.embedTokens(nn.sharing(), c, ids: prefix), x], axis: 1)
            fullLabels = try g.concat([g.constant(-100, shape: [b, p], .i32), labels], axis: 1)
            keyLens = try g.binary(.add, lens, scalar: Double(p))
        }
        let stack = try DecoderLM.stack(nn, c, embeddings: x, positions: g.iota([p + t], axis: 0), lens: keyLens)
        let logits = try DecoderLM.logits(nn, c, hidden: stack.hidden)
        g.output("loss", try g.scope("loss") { try nn.causalLMLoss(logits: logits, labels: fullLabels) })
        return g
    }
}
