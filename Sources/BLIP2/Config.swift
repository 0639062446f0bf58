import GraphIR
import GraphNN

/// The EVA-style ViT (Hugging Face `Blip2VisionConfig`).
public struct VisionConfig: Sendable, Equatable {
    public var imageSize: Int
    public var patchSize: Int
    public var channels: Int = 3
    public var hidden: Int
    public var intermediate: Int
    public var layers: Int
    public var heads: Int
    /// Blocks and `post_layernorm` (HF ≥ 4.28 default 1e-6; LAVIS `ln_vision` uses 1e-5).
    public var eps: Double = 1e-6

    public init(imageSize: Int, patchSize: Int, hidden: Int, intermediate: Int, layers: Int, heads: Int, eps: Double = 1e-6) {
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.hidden = hidden
        self.intermediate = intermediate
        self.layers = layers
        self.heads = heads
        self.eps = eps
    }

    public var patchesPerSide: Int { imageSize / patchSize }
    /// Patch tokens plus the class token.
    public var tokens: Int { patchesPerSide * patchesPerSide + 1 }
}

/// The Q-Former (Hugging Face `Blip2QFormerConfig` plus the BLIP-2 fields that shape it).
public struct QFormerConfig: Sendable, Equatable {
    public var hidden: Int
    public var layers: Int
    public var heads: Int
    public var intermediate: Int
    public var crossAttentionFrequency: Int
    public var numQueryTokens: Int
    /// BERT vocabulary plus `[DEC]`.
    public var vocabulary: Int
    public var maxPositions: Int
    public var eps: Double = 1e-12
    /// Hidden-state dropout (training only). BERT's attention-probability dropout is not modelled: the fused
    /// `attention` op has no dropout.
    public var hiddenDropout: Double = 0.1
    /// ITC / ITM embedding width (`image_text_hidden_size`).
    public var embedDim: Int = 256
    public var padTokenId: Int = 0
    public var clsTokenId: Int = 101
    public var sepTokenId: Int = 102
    public var decTokenId: Int

    public init(hidden: Int, layers: Int, heads: Int, intermediate: Int, crossAttentionFrequency: Int, numQueryTokens: Int,
                vocabulary: Int, maxPositions: Int, hiddenDropout: Double = 0.1, embedDim: Int = 256, decTokenId: Int? = nil) {
        self.hidden = hidden
        self.layers = layers
        self.heads = heads
        self.intermediate = intermediate
        self.crossAttentionFrequency = crossAttentionFrequency
        self.numQueryTokens = numQueryTokens
        self.vocabulary = vocabulary
        self.maxPositions = maxPositions
        self.hiddenDropout = hiddenDropout
        self.embedDim = embedDim
        self.decTokenId = decTokenId ?? vocabulary - 1
    }

    /// Whether layer `i` cross-attends to the image (HF: `layer_idx % cross_attention_frequency == 0`).
    public func hasCrossAttention(_ i: Int) -> Bool { i % crossAttentionFrequency == 0 }
}

/// The frozen language model family.
public enum LLMKind: String, Sendable, CaseIterable {
    /// Decoder-only, learned positions with offset 2, pre-LN, ReLU FFN, tied head (OPT).
    case opt
    /// Encoder-decoder with RMSNorm, relative position buckets, gated-GELU FFN, untied head (FlanT5).
    case t5
    /// Decoder-only with RMSNorm, rotary, grouped-query attention, SwiGLU (LLaMA / SmolLM2).
    case llama
}

/// The frozen LLM's shape. Fields a family does not use are ignored by it.
public struct LLMConfig: Sendable, Equatable {
    public var kind: LLMKind
    public var vocabulary: Int
    public var hidden: Int
    /// Decoder layers (OPT, LLaMA) or decoder layers of T5.
    public var layers: Int
    /// T5 encoder layers.
    public var encoderLayers: Int = 0
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var intermediate: Int
    /// OPT: learned position rows (the table has `maxPositions + 2`).
    public var maxPositions: Int = 2048
    public var eps: Double
    public var tieWordEmbeddings: Bool
    public var padTokenId: Int
    public var bosTokenId: Int
    public var eosTokenId: Int
    /// T5 decoder start id.
    public var decoderStartTokenId: Int = 0
    public var relativeBuckets: Int = 32
    public var relativeMaxDistance: Int = 128
    public var ropeBase: Double = 10_000
    public var ropePairing: RotaryEmbedding.Pairing = .halfRotation

    public init(kind: LLMKind, vocabulary: Int, hidden: Int, layers: Int, encoderLayers: Int = 0, heads: Int, kvHeads: Int? = nil,
                headDim: Int? = nil, intermediate: Int, maxPositions: Int = 2048, eps: Double, tieWordEmbeddings: Bool,
                padTokenId: Int, bosTokenId: Int, eosTokenId: Int) {
        self.kind = kind
        self.vocabulary = vocabulary
        self.hidden = hidden
        self.layers = layers
        self.encoderLayers = encoderLayers
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        self.headDim = headDim ?? hidden / heads
        self.intermediate = intermediate
        self.maxPositions = maxPositions
        self.eps = eps
        self.tieWordEmbeddings = tieWordEmbeddings
        self.padTokenId = padTokenId
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
    }

    public var layout: HeadLayout { HeadLayout(heads: heads, kvHeads: kvHeads, headDim: headDim) }

    /// OPT-2.7B as in `Salesforce/blip2-opt-2.7b` (vocabulary 50304 with the `<image>` token; EOS "\n" = 50118).
    public static let opt2_7b = LLMConfig(kind: .opt, vocabulary: 50304, hidden: 2560, layers: 32, heads: 32, intermediate: 10240,
                                          maxPositions: 2048, eps: 1e-5, tieWordEmbeddings: true, padTokenId: 1, bosTokenId: 2,
                                          eosTokenId: 50118)
    /// FlanT5-XL as in `Salesforce/blip2-flan-t5-xl` (exact GELU in the gated FFN, untied head).
    public static let flanT5XL = LLMConfig(kind: .t5, vocabulary: 32128, hidden: 2048, layers: 24, encoderLayers: 24, heads: 32,
                                           headDim: 64, intermediate: 5120, eps: 1e-6, tieWordEmbeddings: false, padTokenId: 0,
                                           bosTokenId: 1, eosTokenId: 1)
    /// SmolLM2-135M (LLaMA architecture, 9 query / 3 key-value heads), the LLaMA-family model available offline.
    public static let smolLM2_135M = LLMConfig(kind: .llama, vocabulary: 49152, hidden: 576, layers: 30, heads: 9, kvHeads: 3,
                                               intermediate: 1536, eps: 1e-5, tieWordEmbeddings: true, padTokenId: 2,
                                               bosTokenId: 1, eosTokenId: 2)
}

/// A whole BLIP-2 configuration. Every size is a field, so the builders work for any consistent config.
public struct BLIP2Config: Sendable, Equatable {
    public var name: String
    public var vision: VisionConfig
    public var qformer: QFormerConfig
    public var llm: LLMConfig

    public init(name: String, vision: VisionConfig, qformer: QFormerConfig, llm: LLMConfig) {
        self.name = name
        self.vision = vision
        self.qformer = qformer
        self.llm = llm
    }

    /// Checks the sizes fit together; a bad config is an error naming the field, never a crash.
    public func validate() throws {
        func need(_ ok: Bool, _ what: String) throws {
            if !ok { throw GraphError(.build, "BLIP-2 config '\(name)': \(what)") }
        }
        try need(vision.patchSize > 0 && vision.imageSize % vision.patchSize == 0, "vision.imageSize \(vision.imageSize) must be a multiple of vision.patchSize \(vision.patchSize)")
        try need(vision.heads > 0 && vision.hidden % vision.heads == 0, "vision.hidden \(vision.hidden) must be a multiple of vision.heads \(vision.heads)")
        try need(qformer.heads > 0 && qformer.hidden % qformer.heads == 0, "qformer.hidden \(qformer.hidden) must be a multiple of qformer.heads \(qformer.heads)")
        try need(qformer.crossAttentionFrequency > 0, "qformer.crossAttentionFrequency must be positive")
        try need(qformer.numQueryTokens > 0, "qformer.numQueryTokens must be positive")
        try need(qformer.decTokenId >= 0 && qformer.decTokenId < qformer.vocabulary, "qformer.decTokenId must be inside the vocabulary")
        try need(llm.heads > 0 && llm.kvHeads > 0 && llm.heads % llm.kvHeads == 0, "llm.heads \(llm.heads) must be a multiple of llm.kvHeads \(llm.kvHeads)")
        try need(llm.kind != .llama || llm.headDim % 2 == 0, "llm.headDim must be even for rotary embeddings")
        try need(llm.kind != .t5 || llm.encoderLayers > 0, "a T5 LLM needs encoder layers")
    }

    /// The paper's model: EVA ViT-g/14 (39 blocks, 1408 wide, 257 tokens at 224 px), BERT-base Q-Former with 32
    /// queries and cross-attention every second layer, and OPT-2.7B (`.opt`), FlanT5-XL (`.t5`) or SmolLM2-135M
    /// (`.llama`, not in the paper). Builds without allocating weights.
    public static func paper(llm: LLMKind = .opt) -> BLIP2Config {
        BLIP2Config(
            name: "paper",
            vision: VisionConfig(imageSize: 224, patchSize: 14, hidden: 1408, intermediate: 6144, layers: 39, heads: 16),
            qformer: QFormerConfig(hidden: 768, layers: 12, heads: 12, intermediate: 3072, crossAttentionFrequency: 2,
                                   numQueryTokens: 32, vocabulary: 30523, maxPositions: 512),
            llm: llm == .opt ? .opt2_7b : llm == .t5 ? .flanT5XL : .smolLM2_135M)
    }

    /// Trains on two CPU cores in minutes: 32×32 images in 8×8 patches (16 patch tokens + class token), a
    /// 4-block 144-wide ViT (~1.0M parameters), a 4-layer 128-wide Q-Former with 8 queries, a 2-layer 160-wide
    /// LLM over a 1000-token vocabulary. Widths differ on purpose (144 → 128 → 160) so a wrong projection shows.
    public static func tiny(llm: LLMKind = .opt) -> BLIP2Config {
        let lm: LLMConfig
        switch llm {
        case .opt:
            lm = LLMConfig(kind: .opt, vocabulary: 1000, hidden: 160, layers: 2, heads: 4, intermediate: 320, maxPositions: 64,
                           eps: 1e-5, tieWordEmbeddings: true, padTokenId: 1, bosTokenId: 2, eosTokenId: 3)
        case .t5:
            lm = LLMConfig(kind: .t5, vocabulary: 1000, hidden: 160, layers: 2, encoderLayers: 2, heads: 4, intermediate: 320,
                           eps: 1e-6, tieWordEmbeddings: false, padTokenId: 0, bosTokenId: 1, eosTokenId: 1)
        case .llama:
            lm = LLMConfig(kind: .llama, vocabulary: 1000, hidden: 160, layers: 2, heads: 4, kvHeads: 2, intermediate: 320,
                           eps: 1e-5, tieWordEmbeddings: true, padTokenId: 0, bosTokenId: 1, eosTokenId: 2)
        }
        return BLIP2Config(
            name: "tiny",
            vision: VisionConfig(imageSize: 32, patchSize: 8, hidden: 144, intermediate: 576, layers: 4, heads: 4),
            qformer: QFormerConfig(hidden: 128, layers: 4, heads: 4, intermediate: 512, crossAttentionFrequency: 2,
                                   numQueryTokens: 8, vocabulary: 1000, maxPositions: 64, hiddenDropout: 0.1, embedDim: 64),
            llm: lm)
    }

    /// Small sizes with every width different (vision 24 → Q-Former 32 → LLM 40), 16×16 images in 4×4 patches,
    /// 6 queries, 3 Q-Former layers with cross-attention every second layer, and intermediate sizes that are not
    /// multiples of the widths: a generic-config bug (a width mixed up, a layer index rule) cannot hide here.
    public static func test(llm: LLMKind = .opt) -> BLIP2Config {
        let lm: LLMConfig
        switch llm {
        case .opt:
            lm = LLMConfig(kind: .opt, vocabulary: 99, hidden: 40, layers: 2, heads: 4, intermediate: 56, maxPositions: 64,
                           eps: 1e-5, tieWordEmbeddings: true, padTokenId: 1, bosTokenId: 0, eosTokenId: 2)
        case .t5:
            lm = LLMConfig(kind: .t5, vocabulary: 99, hidden: 40, layers: 2, encoderLayers: 2, heads: 4, intermediate: 56,
                           eps: 1e-6, tieWordEmbeddings: false, padTokenId: 0, bosTokenId: 1, eosTokenId: 1)
        case .llama:
            lm = LLMConfig(kind: .llama, vocabulary: 99, hidden: 40, layers: 2, heads: 4, kvHeads: 2, intermediate: 56,
                           eps: 1e-6, tieWordEmbeddings: false, padTokenId: 0, bosTokenId: 1, eosTokenId: 2)
        }
        return BLIP2Config(
            name: "test",
            vision: VisionConfig(imageSize: 16, patchSize: 4, hidden: 24, intermediate: 40, layers: 2, heads: 2),
            qformer: QFormerConfig(hidden: 32, layers: 3, heads: 4, intermediate: 48, crossAttentionFrequency: 2,
                                   numQueryTokens: 6, vocabulary: 99, maxPositions: 64, hiddenDropout: 0.1, embedDim: 16),
            llm: lm)
    }

    /// Mirrors `transformers`' BLIP-2 model testers (`Blip2VisionModelTester`, `Blip2QFormerModelTester`,
    /// `Blip2TextModelDecoderOnlyTester` / the T5 tester): 30-px images in 2-px patches, vision and Q-Former 32
    /// wide × 2 layers × 4 heads with intermediate 37, 10 query tokens, cross-attention every second layer,
    /// vocabulary 99; OPT 16 wide × 2 layers, FFN 4; T5 32 wide, d_ff 37, 8 buckets.
    public static func hfTest(llm: LLMKind = .opt) -> BLIP2Config {
        var lm: LLMConfig
        switch llm {
        case .opt:
            lm = LLMConfig(kind: .opt, vocabulary: 99, hidden: 16, layers: 2, heads: 4, intermediate: 4, maxPositions: 512,
                           eps: 1e-5, tieWordEmbeddings: true, padTokenId: 1, bosTokenId: 0, eosTokenId: 2)
        case .t5:
            lm = LLMConfig(kind: .t5, vocabulary: 99, hidden: 32, layers: 2, encoderLayers: 2, heads: 4, headDim: 8, intermediate: 37,
                           eps: 1e-6, tieWordEmbeddings: false, padTokenId: 0, bosTokenId: 1, eosTokenId: 1)
            lm.relativeBuckets = 8
        case .llama:
            lm = LLMConfig(kind: .llama, vocabulary: 99, hidden: 16, layers: 2, heads: 4, kvHeads: 2, intermediate: 4,
                           eps: 1e-6, tieWordEmbeddings: false, padTokenId: 0, bosTokenId: 1, eosTokenId: 2)
        }
        return BLIP2Config(
            name: "hf-test",
            vision: VisionConfig(imageSize: 30, patchSize: 2, hidden: 32, intermediate: 37, layers: 2, heads: 4),
            qformer: QFormerConfig(hidden: 32, layers: 2, heads: 4, intermediate: 37, crossAttentionFrequency: 2,
                                   numQueryTokens: 10, vocabulary: 99, maxPositions: 512, hiddenDropout: 0.1, embedDim: 32),
            llm: lm)
    }

    /// Configs by command-line name.
    public static func named(_ name: String, llm: LLMKind) throws -> BLIP2Config {
        switch name {
        case "paper": return paper(llm: llm)
        case "tiny": return tiny(llm: llm)
        case "test": return test(llm: llm)
        case "hf-test": return hfTest(llm: llm)
        default: throw GraphError(.build, "unknown BLIP-2 config '\(name)' (expected paper, tiny, test or hf-test)")
        }
    }
}
