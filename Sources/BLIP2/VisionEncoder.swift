import GraphIR
import GraphNN

/// The EVA ViT of BLIP-2 (`vision_model.*`), built frozen, followed by the trainable `post_layernorm`
/// (LAVIS `ln_vision`). Spec §2.
public enum VisionEncoder {
    /// Image features `[B, tokens, hidden]` after `post_layernorm` — what the Q-Former cross-attends to.
    /// `encoder` builds the ViT (frozen in both pre-training stages); `trainable` builds the post-layernorm.
    public static func build(_ pixels: Value, config c: VisionConfig, encoder: Layers, trainable: Layers) throws -> Value {
        let g = encoder.graph
        return try g.scope("vision_model") {
            var x = try g.scope("embeddings") { try embeddings(pixels, c, encoder) }
            try g.scope("encoder") {
                for i in 0..<c.layers {
                    x = try g.scope("layers.\(i)") { try block(x, c, encoder) }
                }
            }
            return try trainable.layerNorm(x, name: "post_layernorm", eps: c.eps)
        }
    }

    /// Patchify as reshape + transpose + one GEMM (equal to the stride-p convolution), prepend the class token,
    /// add the learned positions.
    static func embeddings(_ pixels: Value, _ c: VisionConfig, _ nn: Layers) throws -> Value {
        let g = nn.graph
        let s = g.type(of: pixels).shape
        guard s.count == 4, s[1] == c.channels, s[2] == c.imageSize, s[3] == c.imageSize else {
            throw GraphError(.build, "vision_model.embeddings: pixel_values must be [B, \(c.channels), \(c.imageSize), \(c.imageSize)], got \(s)")
        }
        let (b, p, n) = (s[0], c.patchSize, c.patchesPerSide)
        let grid = try g.reshape(pixels, [b, c.channels, n, p, n, p])
        let patches = try g.reshape(g.transpose(grid, [0, 2, 4, 1, 3, 5]), [b, n * n, c.channels * p * p])
        let embedded = try g.scope("patch_embedding") { () -> Value in
            let w = try nn.parameter("weight", [c.hidden, c.channels, p, p], initializer: nn.weightInit)
            let bias = try nn.parameter("bias", [c.hidden], initializer: .zeros)
            return try nn.apply(patches, weight: g.reshape(w, [c.hidden, c.channels * p * p]), bias: bias)
        }
        let cls = try nn.parameter("class_embedding", [1, 1, c.hidden], initializer: nn.weightInit)
        let tokens = try g.concat([g.broadcast(cls, to: [b, 1, c.hidden]), embedded], axis: 1)
        let positions = try nn.parameter("position_embedding", [1, c.tokens, c.hidden], initializer: nn.weightInit)
        return try g.add(tokens, positions)
    }

    /// Pre-LN block with the fused `qkv` projection; its `[3·hidden]` bias is one parameter as in HF
    /// (`[q_bias; 0; v_bias]` in converted checkpoints). Exact GELU MLP.
    static func block(_ x: Value, _ c: VisionConfig, _ nn: Layers) throws -> Value {
        let g = nn.graph
        let d = c.hidden, headDim = c.hidden / c.heads
        let h = try nn.layerNorm(x, name: "layer_norm1", eps: c.eps)
        let attended = try g.scope("self_attn") { () -> Value in
            let qkv = try nn.linear(h, outFeatures: 3 * d, name: "qkv")
            let heads = try (0..<3).map { part in
                try nn.splitHeads(g.slice(qkv, axis: 2, (part * d)..<((part + 1) * d)), heads: c.heads, headDim: headDim)
            }
            let o = try g.attention(heads[0], heads[1], heads[2])
            return try nn.linear(nn.mergeHeads(o), outFeatures: d, name: "projection")
        }
        let r = try g.add(x, attended)
        let normed = try nn.layerNorm(r, name: "layer_norm2", eps: c.eps)
        let m = try g.scope("mlp") {
            try nn.mlp(normed, hidden: c.intermediate, activation: .gelu, up: "fc1", down: "fc2")
        }
        return try g.add(r, m)
    }
}
