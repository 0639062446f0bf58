import GraphIR
import GraphNN

/// One pre-LN transformer encoder block: `x + attn(ln1(x))`, then `h + mlp(ln2(h))`, with key padding.
struct TransformerBlockConfig {
    var batch: Int
    var length: Int
    var width: Int
    var heads: Int
    var ffWidth: Int

    static let configs: [(name: String, config: TransformerBlockConfig)] = [
        ("tiny", TransformerBlockConfig(batch: 2, length: 8, width: 32, heads: 4, ffWidth: 64)),
        ("small", TransformerBlockConfig(batch: 8, length: 128, width: 256, heads: 4, ffWidth: 1024)),
        ("base", TransformerBlockConfig(batch: 8, length: 512, width: 768, heads: 12, ffWidth: 3072)),
    ]
}

/// Builds `y = block(x)` over `x` [B, L, D] with valid key counts `lens` [B] (GraphNN's transformer layer in
/// pre-LN form), and a mean-squared-error `loss` against `target` so the block can be differentiated on its own.
func buildTransformerBlock(_ c: TransformerBlockConfig) throws -> Graph {
    let g = Graph(name: "transformer_block")
    let nn = Layers(g, weightInit: .truncatedNormal(std: 0.02))
    let x = try g.input("x", [c.batch, c.length, c.width])
    let lens = try g.input("lens", [c.batch], .i32)
    let target = try g.input("target", [c.batch, c.length, c.width])
    let spec = TransformerLayerSpec(
        layout: HeadLayout(heads: c.heads, headDim: c.width / c.heads), attentionScope: "attention",
        attentionNames: AttentionNames(query: "query", key: "key", value: "value", output: "output",
                                       projectionBias: true, outputBias: true),
        attentionNorm: "attention.ln", ffnHidden: c.ffWidth, activation: .gelu, gated: false,
        ffnNames: ["mlp.fc1", "mlp.fc2"], ffnBias: true, ffnNorm: "mlp.ln", placement: .pre, norm: .layerNorm, eps: 1e-5)
    let y = try g.scope("block") {
        try nn.transformerLayer(x, spec: spec, options: AttentionOptions(lens: lens)).output
    }
    g.output("y", y)
    let loss = try g.scope("loss") {
        let diff = try g.sub(y, target)
        return try g.reduceMean(try g.mul(diff, diff), axes: [0, 1, 2])
    }
    g.output("loss", loss)
    return g
}

extension ModelEntry {
    static let transformerBlock = ModelEntry(
        name: "transformer-block", summary: "pre-LN transformer encoder block (attention with key padding, GELU MLP)",
        configs: TransformerBlockConfig.configs.map(\.name)
    ) { options in
        let name = options.config ?? TransformerBlockConfig.configs[0].name
        guard let c = TransformerBlockConfig.configs.first(where: { $0.name == name })?.config else {
            throw CLIError("model 'transformer-block' has no config '\(name)'")
        }
        return try buildTransformerBlock(c)
    }
}
