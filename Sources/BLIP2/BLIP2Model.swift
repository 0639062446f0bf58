import GraphIR
import GraphNN

/// Which pre-training stage a graph computes.
public enum BLIP2Stage: Int, Sendable, CaseIterable {
    /// Representation learning: ITC + ITM + ITG on the Q-Former (no LLM).
    case one = 1
    /// Generative learning: soft prompt into the frozen LLM, LM loss.
    case two = 2
}

/// Training graphs draw dropout (when the config has any); evaluation graphs are deterministic.
public enum BLIP2Mode: String, Sendable { case train, eval }

/// Static sizes of one compiled graph (shapes are static per compilation).
public struct BLIP2Shapes: Sendable, Equatable {
    public var batch: Int
    /// Q-Former text length (stage 1) or LLM text / encoder-prefix length (stage 2).
    public var textLength: Int
    /// T5 decoder target length (stage 2 with `.t5`).
    public var targetLength: Int
    /// Stage 1: items of the batch whose ITM triples (positive, negative image, negative text) run; nil = all
    /// (BLIP-2). Fewer make the ITM pass, 3/5 of the Q-Former's rows, cheaper; negatives still come from the
    /// whole batch.
    public var itmPairs: Int?

    public init(batch: Int = 2, textLength: Int = 8, targetLength: Int = 6, itmPairs: Int? = nil) {
        self.batch = batch
        self.textLength = textLength
        self.targetLength = targetLength
        self.itmPairs = itmPairs
    }
}

/// Where a stage-1 graph gets its ITM hard negatives.
public enum BLIP2Negatives: String, Sendable {
    /// Drawn in the graph from the ITC similarities; input `sampling_seed` i32[].
    case sampled
    /// Given as inputs `negative_images`, `negative_texts` i32[B] (deterministic losses for parity checks).
    case given
}

/// The model registry entry point: builds the whole BLIP-2 graph of a stage with named inputs and outputs.
///
/// Inputs: `pixel_values` f32[B, C, H, W]; `input_ids`, `attention_mask` i32[B, T] (right-padded);
/// stage 1: `sampling_seed` i32[] (hard negatives), or with `negatives: .given` `negative_images` and
/// `negative_texts` i32[B] (the negative image of each text, the negative text of each image); stage 2: `labels` i32[B, T] (T5: [B, target]);
/// training with dropout: `dropout_seed` i32[].
/// Outputs: `loss`; stage 1 `loss_itc`, `loss_itm`, `loss_itg`, `sim_i2t`, `itm_logits`, `itg_logits`,
/// `image_feats`; stage 2 `logits`, `language_projection_output`; both `vision_last_hidden_state` (after
/// `post_layernorm`) and `qformer_last_hidden_state` (the query outputs).
/// Roles: the ViT and the LLM are `frozen`; `post_layernorm`, the Q-Former, `query_tokens`, projections and
/// heads are `trainable`.
public enum BLIP2Model {
    /// `maskStyle: .additiveTensor` builds the stage-1 Q-Former masks as ordinary ops (for `fold-masks`);
    /// `negatives` chooses sampled or given stage-1 hard negatives (ignored in stage 2).
    public static func build(config c: BLIP2Config, stage: BLIP2Stage, mode: BLIP2Mode = .train,
                             shapes: BLIP2Shapes = BLIP2Shapes(), maskStyle: MaskStyle = .attribute,
                             negatives: BLIP2Negatives = .sampled) throws -> Graph {
        try c.validate()
        let g = Graph(name: "blip2_\(c.name)_stage\(stage.rawValue)_\(c.llm.kind.rawValue)")
        let trainable = Layers(g, role: .trainable)
        let frozen = Layers(g, role: .frozen, weightInit: .truncatedBertNormal)
        let (b, t) = (shapes.batch, shapes.textLength)
        let v = c.vision
        let pixels = try g.input("pixel_values", [b, v.channels, v.imageSize, v.imageSize])
        let ids = try g.input("input_ids", [b, t], .i32)
        let mask = try g.input("attention_mask", [b, t], .i32)
        let usesDropout = mode == .train && c.qformer.hiddenDropout > 0
        let dropoutSeed = usesDropout ? try g.input("dropout_seed", [], .i32) : nil
        let image = try VisionEncoder.build(pixels, config: v, encoder: frozen, trainable: trainable)
        g.output("vision_last_hidden_state", image)
        switch stage {
        case .one:
            let source: Stage1.HardNegativeSource
            switch negatives {
            case .sampled: source = .sampled(seed: try g.input("sampling_seed", [], .i32))
            case .given: source = .given(images: try g.input("negative_images", [b], .i32), texts: try g.input("negative_texts", [b], .i32))
            }
            let s1 = try Stage1.build(trainable, c.qformer, image: image, ids: ids, mask: mask, negatives: source, dropoutSeed: dropoutSeed,
                                      maskStyle: maskStyle, itmPairs: shapes.itmPairs)
            g.output("loss", s1.loss)
            g.output("loss_itc", s1.itc)
            g.output("loss_itm", s1.itm)
            g.output("loss_itg", s1.itg)
            g.output("sim_i2t", s1.similarity)
            g.output("itm_logits", s1.itmLogits)
            g.output("itg_logits", s1.itgLogits)
            g.output("image_feats", s1.imageFeatures)
            g.output("negative_images", s1.negativeImages)
            g.output("negative_texts", s1.negativeTexts)
            g.output("qformer_last_hidden_state", s1.queryOutput)
        case .two:
            let labelLength = c.llm.kind == .t5 ? shapes.targetLength : t
            let labels = try g.input("labels", [b, labelLength], .i32)
            let s2 = try Stage2.build(trainable: trainable, frozen: frozen, c, image: image, ids: ids, mask: mask, labels: labels,
                                      dropoutSeed: dropoutSeed)
            g.output("loss", s2.loss)
            g.output("logits", s2.logits)
            g.output("qformer_last_hidden_state", s2.queryOutput)
            g.output("language_projection_output", s2.projection)
        }
        return g
    }
}
