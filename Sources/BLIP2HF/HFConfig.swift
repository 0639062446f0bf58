import GraphIO

/// `Blip2VisionConfig` as written in `config.json` (`vision_config`), with the transformers 5.x defaults.
public struct HFVisionConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var imageSize: Int
    public var patchSize: Int
    public var hiddenAct: String
    /// Used by every block and by `post_layernorm` (1e-6 since transformers 4.28; 1e-5 in 4.27).
    public var layerNormEps: Double
    public var qkvBias: Bool

    /// Patch tokens plus the class token.
    public var numPositions: Int { (imageSize / patchSize) * (imageSize / patchSize) + 1 }
}

/// `Blip2QFormerConfig` (`qformer_config`).
public struct HFQFormerConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var hiddenAct: String
    public var hiddenDropoutProb: Double
    public var maxPositionEmbeddings: Int
    public var layerNormEps: Double
    public var padTokenId: Int
    public var crossAttentionFrequency: Int
    /// Width of the image features the cross-attention reads; `Blip2Config` forces it to the vision width.
    public var encoderHiddenSize: Int
    /// Text FFNs (`intermediate`, `output`) exist only when true (retrieval checkpoints).
    public var useQFormerTextInput: Bool

    public func hasCrossAttention(layer: Int) -> Bool { layer % crossAttentionFrequency == 0 }
}

/// An OPT `text_config`. Only the pre-LN variant without `project_in`/`project_out` (every OPT size BLIP-2 uses)
/// is accepted; anything else is rejected by `HFBlip2Config.parse` with the field named.
public struct HFOPTConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var ffnDim: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// Learned position rows are `maxPositionEmbeddings + 2` (OPT's offset).
    public var maxPositionEmbeddings: Int
    public var padTokenId: Int
    public var bosTokenId: Int
    public var eosTokenId: Int
    /// OPT's LayerNorms use PyTorch's default epsilon; the config has no field for it.
    public var layerNormEps: Double { 1e-5 }
}

/// A T5 `text_config` (FlanT5 in BLIP-2).
public struct HFT5Config: Sendable, Equatable {
    public var vocabSize: Int
    public var dModel: Int
    public var dKv: Int
    public var dFf: Int
    public var numHeads: Int
    public var numLayers: Int
    public var numDecoderLayers: Int
    public var relativeAttentionNumBuckets: Int
    public var relativeAttentionMaxDistance: Int
    public var layerNormEpsilon: Double
    public var feedForwardProj: String
    /// The activation after resolving `feed_forward_proj` and an explicit `dense_act_fn` the way transformers
    /// does: `gated-gelu` alone means `gelu_new` (tanh); BLIP-2's configs add `dense_act_fn: "gelu"` (exact erf).
    public var denseActFn: String
    public var isGatedAct: Bool
    /// Whether the decoder output is multiplied by `d_model^-0.5` before `lm_head` (original T5 with tied
    /// embeddings). transformers 5.x writes `scale_decoder_outputs`; older files say `tie_word_embeddings: false`
    /// for no scaling (FlanT5).
    public var scaleDecoderOutputs: Bool
    /// `tie_word_embeddings` as written (default true). FlanT5 files say false and carry their own `lm_head`;
    /// when true, a file without `lm_head.weight` ties it to `shared.weight`.
    public var tieWordEmbeddings: Bool
    public var padTokenId: Int
    public var eosTokenId: Int
    public var decoderStartTokenId: Int
    public var bosTokenId: Int?

    public var innerDim: Int { numHeads * dKv }
}

/// The language model inside a `Blip2Config`.
public enum HFTextConfig: Sendable, Equatable {
    case opt(HFOPTConfig)
    case t5(HFT5Config)

    public var hiddenSize: Int {
        switch self {
        case .opt(let c): return c.hiddenSize
        case .t5(let c): return c.dModel
        }
    }

    public var modelType: String {
        switch self {
        case .opt: return "opt"
        case .t5: return "t5"
        }
    }
}

/// A parsed Hugging Face `Blip2Config` (`config.json` of a BLIP-2 model folder).
///
/// Fields keep the Hugging Face meaning and defaults (transformers 5.24), so the same file means the same
/// model here and in Python. `BLIP2Config` for graph building is derived from it by `HFModelConfig`.
public struct HFBlip2Config: Sendable, Equatable {
    /// `architectures[0]` if present, e.g. `Blip2ForConditionalGeneration`.
    public var architecture: String?
    public var vision: HFVisionConfig
    public var qformer: HFQFormerConfig
    public var text: HFTextConfig
    public var numQueryTokens: Int
    /// Width of the ITC embeddings (`vision_projection`, `text_projection`).
    public var imageTextHiddenSize: Int
    /// Id of the `<image>` placeholder; nil in checkpoints from before the Nov 2024 hub update.
    public var imageTokenIndex: Int?

    public var isEncoderDecoder: Bool { if case .t5 = text { return true } else { return false } }

    /// Reads `DIR/config.json` (or the given file).
    public static func load(path: String) throws -> HFBlip2Config {
        let file = path.hasSuffix(".json") ? path : path + "/config.json"
        let root = try JSONParser.parse(fileAt: file)
        return try parse(root, file: file)
    }

    /// Parses the JSON of a `config.json`; `file` is used in error messages.
    public static func parse(_ root: JSONValue, file: String = "config.json") throws -> HFBlip2Config {
        guard let object = root.objectValue else {
            throw GraphIOError(.json, "\(file): the top level must be an object, found \(root.kindName)")
        }
        let top = ConfigFields(object, path: "", file: file)
        if let type = try top.optionalString("model_type"), type != "blip-2" {
            throw top.error("model_type", "is '\(type)'; expected 'blip-2'")
        }
        var architecture: String?
        if let list = object["architectures"]?.arrayValue, let first = list.first {
            guard let name = first.stringValue else { throw top.error("architectures", "must be a list of strings") }
            architecture = name
        }
        let vision = try parseVision(top.child("vision_config"))
        var qformer = try parseQFormer(top.child("qformer_config"))
        qformer.encoderHiddenSize = vision.hiddenSize  // as Blip2Config.__post_init__ does
        let text = try parseText(top.child("text_config"))
        let config = HFBlip2Config(
            architecture: architecture, vision: vision, qformer: qformer, text: text,
            numQueryTokens: try top.size("num_query_tokens", default: 32),
            imageTextHiddenSize: try top.size("image_text_hidden_size", default: 256),
            imageTokenIndex: try top.optionalInt("image_token_index") ?? top.optionalInt("image_token_id"))
        try config.validate(file: file)
        return config
    }

    static func parseVision(_ f: ConfigFields) throws -> HFVisionConfig {
        HFVisionConfig(
            hiddenSize: try f.size("hidden_size", default: 1408),
            intermediateSize: try f.size("intermediate_size", default: 6144),
            numHiddenLayers: try f.int("num_hidden_layers", default: 39),
            numAttentionHeads: try f.size("num_attention_heads", default: 16),
            imageSize: try f.squareSize("image_size", default: 224),
            patchSize: try f.squareSize("patch_size", default: 14),
            hiddenAct: try f.string("hidden_act", default: "gelu"),
            layerNormEps: try f.double("layer_norm_eps", default: 1e-6),
            qkvBias: try f.bool("qkv_bias", default: true))
    }

    static func parseQFormer(_ f: ConfigFields) throws -> HFQFormerConfig {
        HFQFormerConfig(
            vocabSize: try f.size("vocab_size", default: 30522),
            hiddenSize: try f.size("hidden_size", default: 768),
            numHiddenLayers: try f.int("num_hidden_layers", default: 12),
            numAttentionHeads: try f.size("num_attention_heads", default: 12),
            intermediateSize: try f.size("intermediate_size", default: 3072),
            hiddenAct: try f.string("hidden_act", default: "gelu"),
            hiddenDropoutProb: try f.double("hidden_dropout_prob", default: 0.1),
            maxPositionEmbeddings: try f.size("max_position_embeddings", default: 512),
            layerNormEps: try f.double("layer_norm_eps", default: 1e-12),
            padTokenId: try f.int("pad_token_id", default: 0),
            crossAttentionFrequency: try f.size("cross_attention_frequency", default: 2),
            encoderHiddenSize: try f.size("encoder_hidden_size", default: 1408),
            useQFormerTextInput: try f.bool("use_qformer_text_input", default: false))
    }

    static func parseText(_ f: ConfigFields) throws -> HFTextConfig {
        let type = try f.string("model_type", default: "opt")  // Blip2Config's default text model
        switch type {
        case "opt": return .opt(try parseOPT(f))
        case "t5": return .t5(try parseT5(f))
        default:
            throw f.error("model_type", "is '\(type)'; supported language models are 'opt' and 't5'")
        }
    }

    static func parseOPT(_ f: ConfigFields) throws -> HFOPTConfig {
        let hidden = try f.size("hidden_size", default: 768)
        let projection = try f.optionalInt("word_embed_proj_dim") ?? hidden
        guard projection == hidden else {
            throw f.error("word_embed_proj_dim", "is \(projection) but hidden_size is \(hidden); OPT's project_in/project_out variant (OPT-350m) is not supported")
        }
        guard try f.bool("do_layer_norm_before", default: true) else {
            throw f.error("do_layer_norm_before", "is false; only pre-LN OPT is supported")
        }
        guard try !f.bool("_remove_final_layer_norm", default: false) else {
            throw f.error("_remove_final_layer_norm", "is true; OPT without the final layer norm is not supported")
        }
        let activation = try f.string("activation_function", default: "relu")
        guard activation == "relu" else { throw f.error("activation_function", "is '\(activation)'; only 'relu' is supported") }
        guard try f.bool("enable_bias", default: true) else { throw f.error("enable_bias", "is false; only OPT with biases is supported") }
        guard try f.bool("layer_norm_elementwise_affine", default: true) else {
            throw f.error("layer_norm_elementwise_affine", "is false; only affine layer norms are supported")
        }
        guard try f.bool("tie_word_embeddings", default: true) else {
            throw f.error("tie_word_embeddings", "is false; BLIP-2's OPT ties lm_head to embed_tokens")
        }
        return HFOPTConfig(
            vocabSize: try f.size("vocab_size", default: 50272),
            hiddenSize: hidden,
            ffnDim: try f.size("ffn_dim", default: 3072),
            numHiddenLayers: try f.int("num_hidden_layers", default: 12),
            numAttentionHeads: try f.size("num_attention_heads", default: 12),
            maxPositionEmbeddings: try f.size("max_position_embeddings", default: 2048),
            padTokenId: try f.tokenId("pad_token_id", default: 1) ?? 1,
            bosTokenId: try f.tokenId("bos_token_id", default: 2) ?? 2,
            eosTokenId: try f.tokenId("eos_token_id", default: 2) ?? 2)
    }

    static func parseT5(_ f: ConfigFields) throws -> HFT5Config {
        let feedForward = try f.string("feed_forward_proj", default: "relu")
        let parts = feedForward.split(separator: "-").map(String.init)
        guard parts.count == 1 || (parts.count == 2 && parts[0] == "gated") else {
            throw f.error("feed_forward_proj", "is '\(feedForward)'; expected 'ACT' or 'gated-ACT'")
        }
        // transformers: activation from feed_forward_proj, 'gated-gelu' means gelu_new, an explicit
        // dense_act_fn (BLIP-2's "gelu") overrides both.
        var activation = parts.last ?? "relu"
        if feedForward == "gated-gelu" { activation = "gelu_new" }
        activation = try f.string("dense_act_fn", default: activation)
        let supported = ["gelu", "gelu_new", "relu"]
        guard supported.contains(activation) else {
            throw f.error("dense_act_fn", "is '\(activation)'; supported: \(supported.joined(separator: ", "))")
        }
        let tie = try f.bool("tie_word_embeddings", default: true)
        let scale = try f.optionalBool("scale_decoder_outputs") ?? tie
        let layers = try f.int("num_layers", default: 6)
        return HFT5Config(
            vocabSize: try f.size("vocab_size", default: 32128),
            dModel: try f.size("d_model", default: 512),
            dKv: try f.size("d_kv", default: 64),
            dFf: try f.size("d_ff", default: 2048),
            numHeads: try f.size("num_heads", default: 8),
            numLayers: layers,
            numDecoderLayers: try f.optionalInt("num_decoder_layers") ?? layers,
            relativeAttentionNumBuckets: try f.size("relative_attention_num_buckets", default: 32),
            relativeAttentionMaxDistance: try f.size("relative_attention_max_distance", default: 128),
            layerNormEpsilon: try f.double("layer_norm_epsilon", default: 1e-6),
            feedForwardProj: feedForward,
            denseActFn: activation,
            isGatedAct: parts.count == 2,
            scaleDecoderOutputs: scale,
            tieWordEmbeddings: tie,
            padTokenId: try f.tokenId("pad_token_id", default: 0) ?? 0,
            eosTokenId: try f.tokenId("eos_token_id", default: 1) ?? 1,
            decoderStartTokenId: try f.tokenId("decoder_start_token_id", default: 0) ?? 0,
            bosTokenId: try f.tokenId("bos_token_id", default: nil))
    }

    /// Checks what transformers would reject or what would make the graph ill-formed.
    func validate(file: String) throws {
        func need(_ ok: Bool, _ what: String) throws {
            if !ok { throw GraphIOError(.json, "\(file): \(what)") }
        }
        try need(vision.hiddenSize % vision.numAttentionHeads == 0,
                 "vision_config.hidden_size \(vision.hiddenSize) is not a multiple of num_attention_heads \(vision.numAttentionHeads)")
        try need(vision.imageSize % vision.patchSize == 0,
                 "vision_config.image_size \(vision.imageSize) is not a multiple of patch_size \(vision.patchSize)")
        try need(vision.hiddenAct == "gelu", "vision_config.hidden_act is '\(vision.hiddenAct)'; only 'gelu' is supported")
        try need(vision.qkvBias, "vision_config.qkv_bias is false; BLIP-2's ViT has q/v biases")
        try need(qformer.hiddenSize % qformer.numAttentionHeads == 0,
                 "qformer_config.hidden_size \(qformer.hiddenSize) is not a multiple of num_attention_heads \(qformer.numAttentionHeads)")
        try need(qformer.hiddenAct == "gelu", "qformer_config.hidden_act is '\(qformer.hiddenAct)'; only 'gelu' is supported")
        if case .opt(let opt) = text {
            try need(opt.hiddenSize % opt.numAttentionHeads == 0,
                     "text_config.hidden_size \(opt.hiddenSize) is not a multiple of num_attention_heads \(opt.numAttentionHeads)")
        }
        if let image = imageTokenIndex {
            let vocabulary: Int
            switch text {
            case .opt(let c): vocabulary = c.vocabSize
            case .t5(let c): vocabulary = c.vocabSize
            }
            // Retrieval checkpoints drop the placeholders before embedding, so only the LLM case needs the row.
            if architecture != "Blip2ForImageTextRetrieval" {
                try need(image >= 0 && image < vocabulary,
                         "image_token_index \(image) is outside the language model's vocabulary (\(vocabulary) rows)")
            }
        }
    }
}
