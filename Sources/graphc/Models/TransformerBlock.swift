import GraphIR

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

/// `x · W + b` with parameters `<scope>.weight` [in, out] and `<scope>.bias` [out].
private func linear(_ g: Graph, _ x: Value, _ name: String, _ inWidth: Int, _ outWidth: Int) throws -> Value {
    try g.scope(name) {
        let prefix = g.currentScope
        let w = try g.parameter(prefix + ".weight", [inWidth, outWidth], initializer: .truncatedNormal(std: 0.02))
        let b = try g.parameter(prefix + ".bias", [outWidth], initializer: .zeros)
        return try g.add(try g.matmul(x, w), b)
    }
}

private func layerNorm(_ g: Graph, _ x: Value, _ name: String, _ width: Int) throws -> Value {
    try g.scope(name) {
        let prefix = g.currentScope
        let gamma = try g.parameter(prefix + ".weight", [width], initializer: .ones)
        let beta = try g.parameter(prefix + ".bias", [width], initializer: .zeros)
        return try g.layerNorm(x, gamma: gamma, beta: beta, eps: 1e-5)
    }
}

/// Builds `y = block(x)` over `x` [B, L, D] with valid key counts `lens` [B], and a mean-squared-error
/// `loss` against `target` so the block can also be differentiated on its own.
func buildTransformerBlock(_ c: TransformerBlockConfig) throws -> Graph {
    let g = Graph(name: "transformer_block")
    let (b, l, d, h) = (c.batch, c.length, c.width, c.heads)
    let x = try g.input("x", [b, l, d])
    let lens = try g.input("lens", [b], .i32)
    let target = try g.input("target", [b, l, d])
    let y = try g.scope("block") {
        let attended = try g.scope("attention") {
            let n = try layerNorm(g, x, "ln", d)
            func heads(_ t: Value) throws -> Value {
                try g.transpose(try g.reshape(t, [b, l, h, d / h]), [0, 2, 1, 3])
            }
            let q = try heads(try linear(g, n, "query", d, d))
            let k = try heads(try linear(g, n, "key", d, d))
            let v = try heads(try linear(g, n, "value", d, d))
            let o = try g.attention(q, k, v, lens: lens)
            let merged = try g.reshape(try g.transpose(o, [0, 2, 1, 3]), [b, l, d])
            return try linear(g, merged, "output", d, d)
        }
        let h1 = try g.add(x, attended)
        let ff = try g.scope("mlp") {
            let n = try layerNorm(g, h1, "ln", d)
            let up = try g.gelu(try linear(g, n, "fc1", d, c.ffWidth))
            return try linear(g, up, "fc2", c.ffWidth, d)
        }
        return try g.add(h1, ff)
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
