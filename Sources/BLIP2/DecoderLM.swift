import GraphIR
import GraphNN

/// The decoder-only LLMs (OPT and LLaMA families) with HF names under `language_model.`. One builder serves
/// training (whole sequence, causal + padding mask), prefill (same, returning the keys/values) and a decode
/// step (one token against fixed-capacity caches).
public enum DecoderLM {
    /// The scope that holds the layers: `language_model.model.decoder` (OPT) or `language_model.model` (LLaMA).
    static func stackScope(_ c: LLMConfig) -> String { c.kind == .opt ? "language_model.model.decoder" : "language_model.model" }

    /// Token embeddings `[B, T, d]` (`embed_tokens`).
    public static func embedTokens(_ nn: Layers, _ c: LLMConfig, ids: Value) throws -> Value {
        try nn.scope(stackScope(c)) {
            try nn.embedding(ids, vocabulary: c.vocabulary, dim: c.hidden, name: "embed_tokens")
        }
    }

    /// The transformer layer of each family.
    static func layerSpec(_ c: LLMConfig) -> TransformerLayerSpec {
        switch c.kind {
        case .opt:
            return TransformerLayerSpec(layout: c.layout, attentionScope: "self_attn", attentionNames: .opt,
                                        attentionNorm: "self_attn_layer_norm", ffnHidden: c.intermediate, activation: .relu,
                                        gated: false, ffnNames: ["fc1", "fc2"], ffnBias: true, ffnNorm: "final_layer_norm",
                                        placement: .pre, norm: .layerNorm, eps: c.eps)
        case .llama, .t5:
            return TransformerLayerSpec(layout: c.layout, attentionScope: "self_attn", attentionNames: .llama,
                                        attentionNorm: "input_layernorm", ffnHidden: c.intermediate, activation: .silu, gated: true,
                                        ffnNames: ["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"], ffnBias: false,
                                        ffnNorm: "post_attention_layernorm", placement: .pre, norm: .rmsNorm, eps: c.eps)
        }
    }

    /// Result of running the stack.
    public struct StackOutput {
        public var hidden: Value
        public var keys: [Value]
        public var values: [Value]
    }

    /// Runs the layers over input embeddings `x` `[B, L, d]` at `positions` `i32[L]` or `i32[B, L]` (OPT adds its
    /// learned positions with offset 2; LLaMA rotates queries and keys). With `caches` (one per layer) this is a
    /// decode step of one token; otherwise the mask is causal with optional key padding `lens`. `keyBias`
    /// (`[B, 1, 1, Lk]`, 0 or −10000) hides keys a count cannot describe: left padding.
    public static func stack(_ nn: Layers, _ c: LLMConfig, embeddings x: Value, positions: Value, lens: Value?,
                             caches: [KVCacheSlot]? = nil, keyBias: Value? = nil) throws -> StackOutput {
        let g = nn.graph
        return try nn.scope(stackScope(c)) {
            var h = x
            var options = AttentionOptions(mask: .causal, lens: lens, bias: keyBias)
            switch c.kind {
            case .opt:
                let offset = try g.binary(.add, positions, scalar: 2)
                let table = try nn.embedding(offset, vocabulary: c.maxPositions + 2, dim: c.hidden, name: "embed_positions")
                h = try g.add(h, table)
            case .llama, .t5:
                options.rotary = RotaryEmbedding(dim: c.headDim, base: c.ropeBase, pairing: c.ropePairing)
                options.positions = positions
            }
            var keys: [Value] = [], values: [Value] = []
            for j in 0..<c.layers {
                var o = options
                o.cache = caches?[j]
                let r = try g.scope("layers.\(j)") { try nn.transformerLayer(h, spec: layerSpec(c), options: o) }
                h = r.output
                keys.append(r.keys)
                values.append(r.values)
            }
            h = try nn.normalize(h, c.kind == .opt ? .layerNorm : .rmsNorm, name: c.kind == .opt ? "final_layer_norm" : "norm", eps: c.eps)
            return StackOutput(hidden: h, keys: keys, values: values)
        }
    }

    /// Vocabulary logits: OPT ties the head to `embed_tokens`; LLaMA does when `tieWordEmbeddings`.
    public static func logits(_ nn: Layers, _ c: LLMConfig, hidden: Value) throws -> Value {
        if c.tieWordEmbeddings {
            let table = try nn.existingParameter(stackScope(c) + ".embed_tokens.weight")
            return try nn.graph.scope("language_model.lm_head") { try nn.apply(hidden, weight: table) }
        }
        return try nn.scope("language_model") { try nn.linear(hidden, outFeatures: c.vocabulary, name: "lm_head", bias: false) }
    }
}
