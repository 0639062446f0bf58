#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphIR
import GraphNN

/// The T5 / FlanT5 encoder-decoder with HF names under `language_model.` (spec §5.3): RMSNorm, no attention
/// scaling, relative position buckets owned by block 0 of each stack, gated FFN with exact GELU (BLIP-2 forces
/// `dense_act_fn = "gelu"`), untied `lm_head`.
public enum T5LM {
    /// T5's `_relative_position_bucket` for query positions × keys `0 ..< keyCount`, row-major `[Lq, Lk]`.
    /// Computed in `Float` like PyTorch so the bucket edges agree.
    public static func relativeBuckets(queryPositions: [Int], keyCount: Int, bidirectional: Bool, buckets: Int,
                                       maxDistance: Int) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(queryPositions.count * keyCount)
        for p in queryPositions {
            for j in 0..<keyCount {
                var rel = j - p
                var n = buckets, bucket = 0
                if bidirectional {
                    n /= 2
                    if rel > 0 { bucket += n }
                    rel = abs(rel)
                } else {
                    rel = -min(rel, 0)
                }
                let exact = n / 2
                if rel < exact {
                    bucket += rel
                } else {
                    let scaled = Float(logf(Float(rel) / Float(exact)) / logf(Float(maxDistance) / Float(exact)) * Float(n - exact))
                    bucket += min(exact + Int(scaled), n - 1)
                }
                out.append(bucket)
            }
        }
        return out
    }

    /// The additive position bias `[1, H, Lq, Lk]` from a `[Lq, Lk]` bucket value and the stack's table
    /// (`block.0.layer.0.SelfAttention.relative_attention_bias.weight`, created on first use).
    static func positionBias(_ nn: Layers, _ c: LLMConfig, buckets: Value) throws -> Value {
        let g = nn.graph
        let table = try g.scope("block.0.layer.0.SelfAttention") {
            try nn.parameter("relative_attention_bias.weight", [c.relativeBuckets, c.heads], initializer: nn.weightInit)
        }
        let s = g.type(of: buckets).shape
        let perPair = try g.gather(table, buckets, axis: 0)                    // [Lq, Lk, H]
        return try g.reshape(g.transpose(perPair, [2, 0, 1]), [1, c.heads, s[0], s[1]])
    }

    static func constantBuckets(_ g: Graph, _ c: LLMConfig, lq: Int, lk: Int, bidirectional: Bool) throws -> Value {
        let b = relativeBuckets(queryPositions: Array((lk - lq)..<lk), keyCount: lk, bidirectional: bidirectional,
                                buckets: c.relativeBuckets, maxDistance: c.relativeMaxDistance)
        return try g.constant(Tensor(ints: b, shape: [lq, lk]))
    }

    /// Token embeddings from the table `language_model.shared.weight`, shared by encoder and decoder.
    public static func embedTokens(_ nn: Layers, _ c: LLMConfig, ids: Value) throws -> Value {
        try nn.scope("language_model") { try nn.sharing().embedding(ids, vocabulary: c.vocabulary, dim: c.hidden, name: "shared") }
    }

    static func ffn(_ nn: Layers, _ c: LLMConfig, _ x: Value, layer: Int) throws -> Value {
        let h = try nn.rmsNorm(x, name: "layer.\(layer).layer_norm", eps: c.eps)
        let f = try nn.scope("layer.\(layer).DenseReluDense") {
            try nn.gatedMLP(h, hidden: c.intermediate, activation: .gelu, gate: "wi_0", up: "wi_1", down: "wo")
        }
        return try nn.graph.add(x, f)
    }

    /// The encoder over input embeddings `[B, L, d]` with key padding `lens`; returns the final-normed states.
    public static func encode(_ nn: Layers, _ c: LLMConfig, embeddings x: Value, lens: Value?) throws -> Value {
        let g = nn.graph
        return try nn.scope("language_model.encoder") {
            let l = g.type(of: x).shape[1]
            let bias = try positionBias(nn, c, buckets: constantBuckets(g, c, lq: l, lk: l, bidirectional: true))
            var h = x
            for j in 0..<c.encoderLayers {
                h = try g.scope("block.\(j)") {
                    let n = try nn.rmsNorm(h, name: "layer.0.layer_norm", eps: c.eps)
                    let a = try nn.scope("layer.0.SelfAttention") {
                        try nn.multiHeadAttention(n, layout: c.layout, names: .t5,
                                                  options: AttentionOptions(lens: lens, bias: bias, scale: 1)).output
                    }
                    return try ffn(nn, c, g.add(h, a), layer: 1)
                }
            }
            return try nn.rmsNorm(h, name: "final_layer_norm", eps: c.eps)
        }
    }

    /// Output of the decoder stack.
    public struct DecoderOutput {
        public var hidden: Value
        public var keys: [Value]
        public var values: [Value]
        public var crossKeys: [Value]
        public var crossValues: [Value]
    }

    /// The decoder over target ids. Training: `buckets` nil (causal buckets are constants). Decode step:
    /// `caches` per layer, `buckets` an `i32[1, capacity]` input, and cross-attention keys/values given.
    public static func decode(_ nn: Layers, _ c: LLMConfig, ids: Value, encoderHidden: Value?, encoderLens: Value?,
                              caches: [KVCacheSlot]? = nil, buckets: Value? = nil,
                              crossKeyValues: [(keys: Value, values: Value)]? = nil) throws -> DecoderOutput {
        let g = nn.graph
        let x = try embedTokens(nn, c, ids: ids)
        return try nn.scope("language_model.decoder") {
            let l = g.type(of: ids).shape[1]
            let bucketValue = try buckets ?? constantBuckets(g, c, lq: l, lk: l, bidirectional: false)
            let bias = try positionBias(nn, c, buckets: bucketValue)
            var h = x
            var out = DecoderOutput(hidden: x, keys: [], values: [], crossKeys: [], crossValues: [])
            for j in 0..<c.layers {
                h = try g.scope("block.\(j)") {
                    let n0 = try nn.rmsNorm(h, name: "layer.0.layer_norm", eps: c.eps)
                    let selfAttn = try nn.scope("layer.0.SelfAttention") {
                        try nn.multiHeadAttention(n0, layout: c.layout, names: .t5,
                                                  options: AttentionOptions(mask: .causal, bias: bias, scale: 1, cache: caches?[j]))
                    }
                    out.keys.append(selfAttn.keys)
                    out.values.append(selfAttn.values)
                    let h1 = try g.add(h, selfAttn.output)
                    let n1 = try nn.rmsNorm(h1, name: "layer.1.layer_norm", eps: c.eps)
                    let cross = try nn.scope("layer.1.EncDecAttention") {
                        try nn.multiHeadAttention(n1, context: encoderHidden, layout: c.layout, names: .t5,
                                                  options: AttentionOptions(lens: encoderLens, scale: 1,
                                                                            precomputedKeyValues: crossKeyValues?[j]))
                    }
                    out.crossKeys.append(cross.keys)
                    out.crossValues.append(cross.values)
                    return try ffn(nn, c, g.add(h1, cross.output), layer: 2)
                }
            }
            out.hidden = try nn.rmsNorm(h, name: "final_layer_norm", eps: c.eps)
            return out
        }
    }

    /// `lm_head` (untied in FlanT5). A tied T5 rescales by d^-0.5 first, as HF does.
    public static func logits(_ nn: Layers, _ c: LLMConfig, hidden: Value) throws -> Value {
        let g = nn.graph
        if c.tieWordEmbeddings {
            let scaled = try g.binary(.mul, hidden, scalar: 1 / Double(c.hidden).squareRoot())
            return try g.scope("language_model.lm_head") { try nn.apply(scaled, weight: nn.existingParameter("language_model.shared.weight")) }
        }
        return try nn.scope("language_model") { try nn.linear(hidden, outFeatures: c.vocabulary, name: "lm_head", bias: false) }
    }

    /// Decoder inputs from labels: shift right, start with `decoderStartTokenId`, and −100 → pad (HF `_shift_right`).
    public static func shiftRight(_ g: Graph, _ c: LLMConfig, labels: Value) throws -> Value {
        let s = g.type(of: labels).shape
        let start = try g.constant(Double(c.decoderStartTokenId), shape: [s[0], 1], .i32)
        let shifted = try g.concat([start, g.slice(labels, axis: 1, 0..<(s[1] - 1))], axis: 1)
        let ignored = try g.emit(.eq, [shifted, g.constant(-100, shape: [], .i32)])
        return try g.select(ignored, g.constant(Double(c.padTokenId), shape: [], .i32), shifted)
    }
}
