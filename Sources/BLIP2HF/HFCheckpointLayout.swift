/// The Hugging Face BLIP-2 classes whose checkpoints graphc reads.
public enum HFArchitecture: String, Sendable, CaseIterable {
    case conditionalGeneration = "Blip2ForConditionalGeneration"
    /// Same parameters under the same names as `Blip2ForConditionalGeneration` (checked by the fixture generator).
    case model = "Blip2Model"
    case retrieval = "Blip2ForImageTextRetrieval"
}

/// One tensor of a Hugging Face BLIP-2 state dict.
public struct HFParameter: Sendable, Equatable {
    /// The checkpoint key, e.g. `qformer.encoder.layer.0.crossattention.attention.key.weight`.
    public var key: String
    /// PyTorch shape; `Linear` weights are [out, in].
    public var shape: [Int]
    /// Set for a tied alias (`language_model.lm_head.weight` → the token embedding): the file may omit it,
    /// and then it takes the value of this source key, as `transformers` ties it.
    public var tiedTo: String?

    public var count: Int { shape.reduce(1, *) }
}

/// Every key, with its shape, that `transformers` expects in a BLIP-2 checkpoint for a given config and class.
///
/// Built from the config alone, so a checkpoint is checked before any weight is read, and the report names
/// each missing, unexpected or mis-shaped key as `transformers` does.
public struct HFCheckpointLayout: Sendable {
    public let architecture: HFArchitecture
    /// In module order (vision, queries, Q-Former, heads, language model).
    public let parameters: [HFParameter]
    /// Keys that may be present in a file and are dropped silently (`_keys_to_ignore_on_load_unexpected`).
    public let ignoredUnexpected: Set<String>

    public init(config: HFBlip2Config, architecture: HFArchitecture) {
        var list = LayoutBuilder()
        list.vision(config.vision)
        list.add("query_tokens", [1, config.numQueryTokens, config.qformer.hiddenSize])
        if architecture == .retrieval {
            let q = config.qformer
            list.add("embeddings.word_embeddings.weight", [q.vocabSize, q.hiddenSize])
            list.add("embeddings.position_embeddings.weight", [q.maxPositionEmbeddings, q.hiddenSize])
        }
        list.qformer(config.qformer)
        var ignored: Set<String> = []
        switch architecture {
        case .retrieval:
            let q = config.qformer.hiddenSize, e = config.imageTextHiddenSize
            list.linear("vision_projection", out: e, in: q)
            list.linear("text_projection", out: e, in: q)
            list.linear("itm_head", out: 2, in: q)
        case .conditionalGeneration, .model:
            list.linear("language_projection", out: config.text.hiddenSize, in: config.qformer.hiddenSize)
            switch config.text {
            case .opt(let opt): list.opt(opt)
            case .t5(let t5):
                list.t5(t5)
                ignored.insert("language_model.decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight")
            }
        }
        self.architecture = architecture
        self.parameters = list.parameters
        self.ignoredUnexpected = ignored
    }

    /// Parameters stored once: tied aliases are not counted again (the paper's parameter counts).
    public var parameterCount: Int { parameters.filter { $0.tiedTo == nil }.reduce(0) { $0 + $1.count } }

    public subscript(key: String) -> HFParameter? { parameters.first { $0.key == key } }

    /// Compares the layout with the keys and shapes found in a checkpoint.
    public func check(found: [String: [Int]]) -> HFLoadReport {
        var report = HFLoadReport(architecture: architecture)
        for parameter in parameters {
            guard let shape = found[parameter.key] else {
                if let source = parameter.tiedTo, found[source] != nil {
                    report.tied.append(HFLoadReport.Tie(key: parameter.key, source: source))
                } else {
                    report.missing.append(parameter.key)
                }
                continue
            }
            if shape != parameter.shape {
                report.mismatched.append(HFLoadReport.Mismatch(key: parameter.key, checkpoint: shape, model: parameter.shape))
            }
        }
        let expected = Set(parameters.map(\.key))
        report.unexpected = found.keys.filter { !expected.contains($0) && !ignoredUnexpected.contains($0) }.sorted()
        report.ignored = found.keys.filter { ignoredUnexpected.contains($0) }.sorted()
        return report
    }
}

/// Appends parameters in module order; knows how each HF module names its tensors.
private struct LayoutBuilder {
    var parameters: [HFParameter] = []

    mutating func add(_ key: String, _ shape: [Int], tiedTo: String? = nil) {
        parameters.append(HFParameter(key: key, shape: shape, tiedTo: tiedTo))
    }

    mutating func linear(_ prefix: String, out: Int, in input: Int, bias: Bool = true) {
        add(prefix + ".weight", [out, input])
        if bias { add(prefix + ".bias", [out]) }
    }

    mutating func layerNorm(_ prefix: String, _ width: Int, bias: Bool = true) {
        add(prefix + ".weight", [width])
        if bias { add(prefix + ".bias", [width]) }
    }

    mutating func vision(_ v: HFVisionConfig) {
        let d = v.hiddenSize
        add("vision_model.embeddings.class_embedding", [1, 1, d])
        add("vision_model.embeddings.patch_embedding.weight", [d, 3, v.patchSize, v.patchSize])
        add("vision_model.embeddings.patch_embedding.bias", [d])
        add("vision_model.embeddings.position_embedding", [1, v.numPositions, d])
        for i in 0..<v.numHiddenLayers {
            let p = "vision_model.encoder.layers.\(i)"
            linear(p + ".self_attn.qkv", out: 3 * d, in: d)
            linear(p + ".self_attn.projection", out: d, in: d)
            layerNorm(p + ".layer_norm1", d)
            linear(p + ".mlp.fc1", out: v.intermediateSize, in: d)
            linear(p + ".mlp.fc2", out: d, in: v.intermediateSize)
            layerNorm(p + ".layer_norm2", d)
        }
        layerNorm("vision_model.post_layernorm", d)
    }

    mutating func qformer(_ q: HFQFormerConfig) {
        let d = q.hiddenSize
        layerNorm("qformer.layernorm", d)
        for i in 0..<q.numHiddenLayers {
            let p = "qformer.encoder.layer.\(i)"
            attention(p + ".attention", width: d, keyWidth: d)
            if q.hasCrossAttention(layer: i) {
                attention(p + ".crossattention", width: d, keyWidth: q.encoderHiddenSize)
            }
            if q.useQFormerTextInput {
                linear(p + ".intermediate.dense", out: q.intermediateSize, in: d)
                linear(p + ".output.dense", out: d, in: q.intermediateSize)
                layerNorm(p + ".output.LayerNorm", d)
            }
            linear(p + ".intermediate_query.dense", out: q.intermediateSize, in: d)
            linear(p + ".output_query.dense", out: d, in: q.intermediateSize)
            layerNorm(p + ".output_query.LayerNorm", d)
        }
    }

    private mutating func attention(_ prefix: String, width d: Int, keyWidth: Int) {
        linear(prefix + ".attention.query", out: d, in: d)
        linear(prefix + ".attention.key", out: d, in: keyWidth)
        linear(prefix + ".attention.value", out: d, in: keyWidth)
        linear(prefix + ".output.dense", out: d, in: d)
        layerNorm(prefix + ".output.LayerNorm", d)
    }

    mutating func opt(_ c: HFOPTConfig) {
        let d = c.hiddenSize, p = "language_model.model.decoder"
        add(p + ".embed_tokens.weight", [c.vocabSize, d])
        add(p + ".embed_positions.weight", [c.maxPositionEmbeddings + 2, d])
        for j in 0..<c.numHiddenLayers {
            let l = "\(p).layers.\(j)"
            for projection in ["k_proj", "v_proj", "q_proj", "out_proj"] {
                linear("\(l).self_attn.\(projection)", out: d, in: d)
            }
            layerNorm(l + ".self_attn_layer_norm", d)
            linear(l + ".fc1", out: c.ffnDim, in: d)
            linear(l + ".fc2", out: d, in: c.ffnDim)
            layerNorm(l + ".final_layer_norm", d)
        }
        layerNorm(p + ".final_layer_norm", d)
        add("language_model.lm_head.weight", [c.vocabSize, d], tiedTo: p + ".embed_tokens.weight")
    }

    mutating func t5(_ c: HFT5Config) {
        let shared = "language_model.shared.weight"
        add(shared, [c.vocabSize, c.dModel])
        t5Stack("language_model.encoder", c, layers: c.numLayers, decoder: false)
        t5Stack("language_model.decoder", c, layers: c.numDecoderLayers, decoder: true)
        add("language_model.lm_head.weight", [c.vocabSize, c.dModel], tiedTo: c.tieWordEmbeddings ? shared : nil)
    }

    private mutating func t5Stack(_ p: String, _ c: HFT5Config, layers: Int, decoder: Bool) {
        add(p + ".embed_tokens.weight", [c.vocabSize, c.dModel], tiedTo: "language_model.shared.weight")
        for j in 0..<layers {
            let b = "\(p).block.\(j).layer"
            t5Attention("\(b).0.SelfAttention", c, relativeBias: j == 0)
            layerNorm("\(b).0.layer_norm", c.dModel, bias: false)
            var next = 1
            if decoder {
                t5Attention("\(b).1.EncDecAttention", c, relativeBias: false)
                layerNorm("\(b).1.layer_norm", c.dModel, bias: false)
                next = 2
            }
            let ffn = "\(b).\(next).DenseReluDense"
            if c.isGatedAct {
                linear(ffn + ".wi_0", out: c.dFf, in: c.dModel, bias: false)
                linear(ffn + ".wi_1", out: c.dFf, in: c.dModel, bias: false)
            } else {
                linear(ffn + ".wi", out: c.dFf, in: c.dModel, bias: false)
            }
            linear(ffn + ".wo", out: c.dModel, in: c.dFf, bias: false)
            layerNorm("\(b).\(next).layer_norm", c.dModel, bias: false)
        }
        layerNorm(p + ".final_layer_norm", c.dModel, bias: false)
    }

    private mutating func t5Attention(_ p: String, _ c: HFT5Config, relativeBias: Bool) {
        linear(p + ".q", out: c.innerDim, in: c.dModel, bias: false)
        linear(p + ".k", out: c.innerDim, in: c.dModel, bias: false)
        linear(p + ".v", out: c.innerDim, in: c.dModel, bias: false)
        linear(p + ".o", out: c.dModel, in: c.innerDim, bias: false)
        if relativeBias { add(p + ".relative_attention_bias.weight", [c.relativeAttentionNumBuckets, c.numHeads]) }
    }
}

/// The outcome of matching a checkpoint with a layout, worded like the `transformers` loading messages.
public struct HFLoadReport: Sendable, Equatable, CustomStringConvertible {
    public struct Mismatch: Sendable, Equatable {
        public var key: String
        public var checkpoint: [Int]
        public var model: [Int]

        public init(key: String, checkpoint: [Int], model: [Int]) {
            self.key = key
            self.checkpoint = checkpoint
            self.model = model
        }
    }
    public struct Tie: Sendable, Equatable {
        public var key: String
        public var source: String

        public init(key: String, source: String) {
            self.key = key
            self.source = source
        }
    }

    public var architecture: HFArchitecture
    /// Expected keys absent from the file (and not tied to a present key).
    public var missing: [String] = []
    /// Keys in the file that the model has no parameter for.
    public var unexpected: [String] = []
    public var mismatched: [Mismatch] = []
    /// Aliases absent from the file that take their source's value.
    public var tied: [Tie] = []
    /// Keys present and dropped on purpose (`_keys_to_ignore_on_load_unexpected`).
    public var ignored: [String] = []

    /// True when every parameter gets a value of the right shape and nothing in the file is left over.
    public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }

    public var description: String {
        var lines: [String] = []
        let name = architecture.rawValue
        if !missing.isEmpty {
            lines.append("Some weights of \(name) were not initialized from the model checkpoint: \(missing)")
        }
        if !unexpected.isEmpty {
            lines.append("Some weights of the model checkpoint were not used when initializing \(name): \(unexpected)")
        }
        for m in mismatched {
            lines.append("size mismatch for \(m.key): copying a param with shape \(m.checkpoint) from checkpoint, the shape in current model is \(m.model).")
        }
        if lines.isEmpty { lines.append("All keys matched for \(name) (\(tied.count) tied, \(ignored.count) ignored).") }
        return lines.joined(separator: "\n")
    }
}
