import GraphIR
import GraphNN

/// How a graph expresses the structural attention masks of the Q-Former passes.
public enum MaskStyle: String, Sendable, CaseIterable {
    /// The `mask` attribute of the `attention` op (`block`, `prefix_causal`, `padding(%lens)`): the default.
    case attribute
    /// An additive `[B, 1, L, L]` bias built from ordinary ops (`Layers.additiveMask`), mask `none`: the input
    /// the `fold-masks` pass turns back into the attribute form.
    case additiveTensor = "tensor"
}

/// One run of the Q-Former over `[queries ; text]` (spec §3). Either part may be absent: query-only (stage 2,
/// ITC image side), text-only (`query_length` 0), or both (ITM, ITG, and the joint ITC pass).
public struct QFormerPass {
    /// Raw query embeddings `[B, Q, hidden]` (the broadcast `query_tokens`), before the embedding LayerNorm.
    public var queries: Value?
    /// Text ids `[B, T]`; positions restart at 0 after the queries.
    public var textIds: Value?
    /// Self-attention pattern over `[Q ; T]`.
    public var mask: MaskPattern
    /// Valid key counts over `[Q ; T]` (`i32[B]`); nil when nothing is padded.
    public var lens: Value?
    /// Image features `[B, Nv, visionHidden]` for cross-attention (query rows only).
    public var image: Value?
    /// Row `r` of the pass reads image `imageIndex[r]` (`i32[R]`; ITM pairs). The cross-attention keys and values
    /// are projected once per image and then gathered, which equals projecting gathered images (the projection
    /// is row-wise) at a fraction of the cost; the projection is then shared with the other passes over `image`.
    public var imageIndex: Value?
    public var maskStyle: MaskStyle

    public init(queries: Value?, textIds: Value?, mask: MaskPattern = .none, lens: Value? = nil, image: Value?,
                imageIndex: Value? = nil, maskStyle: MaskStyle = .attribute) {
        self.queries = queries
        self.textIds = textIds
        self.mask = mask
        self.lens = lens
        self.image = image
        self.imageIndex = imageIndex
        self.maskStyle = maskStyle
    }

    /// The self-attention options of every layer of this pass (the tensor form is built once per pass).
    func selfAttentionOptions(_ nn: Layers, length: Int) throws -> AttentionOptions {
        switch maskStyle {
        case .attribute: return AttentionOptions(mask: mask, lens: lens)
        case .additiveTensor:
            if mask == .none && lens == nil { return AttentionOptions() }
            let bias = try nn.graph.scope("mask") { try nn.additiveMask(mask, lq: length, lk: length, lens: lens) }
            return AttentionOptions(bias: bias)
        }
    }
}

/// The BERT-style Q-Former with HF parameter names (`query_tokens`, `qformer.*`, `embeddings.*`).
/// Build with a sharing `Layers` so the passes of stage 1 use one set of weights.
public enum QFormer {
    /// `query_tokens` `[1, Q, hidden]` broadcast to the batch.
    public static func queryTokens(_ nn: Layers, _ c: QFormerConfig, batch: Int) throws -> Value {
        let q = try nn.parameter("query_tokens", [1, c.numQueryTokens, c.hidden], initializer: .bertNormal)
        return try nn.graph.broadcast(q, to: [batch, c.numQueryTokens, c.hidden])
    }

    /// Word + absolute position embeddings of text ids (no LayerNorm; that is `qformer.layernorm`, shared with
    /// the queries). HF keeps these tables at the top level (`embeddings.*`) in `Blip2ForImageTextRetrieval`.
    public static func textEmbeddings(_ nn: Layers, _ c: QFormerConfig, ids: Value) throws -> Value {
        let g = nn.graph
        let t = g.type(of: ids).shape[1]
        guard t <= c.maxPositions else {
            throw GraphError(.build, "qformer text length \(t) exceeds maxPositions \(c.maxPositions)")
        }
        return try g.scope("embeddings") {
            let words = try nn.embedding(ids, vocabulary: c.vocabulary, dim: c.hidden, name: "word_embeddings")
            let positions = try nn.embedding(g.iota([t], axis: 0), vocabulary: c.maxPositions, dim: c.hidden, name: "position_embeddings")
            return try g.add(words, positions)
        }
    }

    /// Runs the Q-Former; returns the last hidden state `[B, Q + T, hidden]`.
    public static func run(_ nn: Layers, _ c: QFormerConfig, _ pass: QFormerPass, dropoutSeed: Value? = nil) throws -> Value {
        let g = nn.graph
        let queryCount = pass.queries.map { g.type(of: $0).shape[1] } ?? 0
        var parts: [Value] = []
        if let q = pass.queries { parts.append(q) }
        if let ids = pass.textIds { parts.append(try textEmbeddings(nn, c, ids: ids)) }
        guard !parts.isEmpty else { throw GraphError(.build, "qformer: a pass needs queries or text") }
        if queryCount > 0, pass.image == nil { throw GraphError(.build, "qformer: query rows need image features to cross-attend") }
        return try g.scope("qformer") {
            let joined = parts.count == 1 ? parts[0] : try g.concat(parts, axis: 1)
            let attention = try pass.selfAttentionOptions(nn, length: g.type(of: joined).shape[1])
            var x = try nn.dropout(nn.layerNorm(joined, name: "layernorm", eps: c.eps), rate: c.hiddenDropout, seed: dropoutSeed)
            try g.scope("encoder") {
                for i in 0..<c.layers {
                    x = try g.scope("layer.\(i)") {
                        try layer(nn, c, index: i, x, queryCount: queryCount, pass: pass, attention: attention, dropoutSeed: dropoutSeed)
                    }
                }
            }
            return x
        }
    }

    static func layer(_ nn: Layers, _ c: QFormerConfig, index: Int, _ x: Value, queryCount: Int, pass: QFormerPass,
                      attention: AttentionOptions, dropoutSeed: Value?) throws -> Value {
        let g = nn.graph
        let layout = HeadLayout(heads: c.heads, headDim: c.hidden / c.heads)
        let total = g.type(of: x).shape[1]
        let attended = try g.scope("attention") {
            try nn.multiHeadAttention(x, layout: layout, names: .bert, options: attention).output
        }
        let s = try nn.postNormResidual(x, nn.dropout(attended, rate: c.hiddenDropout, seed: dropoutSeed), .layerNorm,
                                        name: "attention.output.LayerNorm", eps: c.eps)
        var pieces: [Value] = []
        if queryCount > 0 {
            var sq = queryCount == total ? s : try g.slice(s, axis: 1, 0..<queryCount)
            if c.hasCrossAttention(index), let image = pass.image {
                let crossed = try g.scope("crossattention") { () -> Value in
                    var options = AttentionOptions()
                    if let index = pass.imageIndex {
                        let kv = try nn.projectKeyValues(image, layout: layout, names: .bert)
                        options.precomputedKeyValues = (try g.gather(kv.keys, index, axis: 0), try g.gather(kv.values, index, axis: 0))
                    }
                    return try nn.multiHeadAttention(sq, context: image, layout: layout, names: .bert, options: options).output
                }
                sq = try nn.postNormResidual(sq, nn.dropout(crossed, rate: c.hiddenDropout, seed: dropoutSeed), .layerNorm,
                                             name: "crossattention.output.LayerNorm", eps: c.eps)
            }
            pieces.append(try feedForward(nn, c, sq, suffix: "_query", dropoutSeed: dropoutSeed))
        }
        if total > queryCount {
            let st = queryCount == 0 ? s : try g.slice(s, axis: 1, queryCount..<total)
            pieces.append(try feedForward(nn, c, st, suffix: "", dropoutSeed: dropoutSeed))
        }
        return pieces.count == 1 ? pieces[0] : try g.concat(pieces, axis: 1)
    }

    /// `LN(x + output(GELU(intermediate(x))))` with the query (`_query`) or text weights.
    static func feedForward(_ nn: Layers, _ c: QFormerConfig, _ x: Value, suffix: String, dropoutSeed: Value?) throws -> Value {
        let f = try nn.mlp(x, hidden: c.intermediate, activation: .gelu, up: "intermediate\(suffix).dense", down: "output\(suffix).dense")
        return try nn.postNormResidual(x, nn.dropout(f, rate: c.hiddenDropout, seed: dropoutSeed), .layerNorm,
                                       name: "output\(suffix).LayerNorm", eps: c.eps)
    }

    /// The stage-1 LM head (`cls.predictions`, LAVIS names; absent from HF): dense + GELU + LN, then the decoder
    /// tied to `embeddings.word_embeddings.weight` plus its own bias. Returns logits `[B, T, vocabulary]`.
    public static func lmHead(_ nn: Layers, _ c: QFormerConfig, _ h: Value) throws -> Value {
        let g = nn.graph
        return try g.scope("cls.predictions") {
            let t = try g.scope("transform") { () -> Value in
                let d = try nn.gelu(nn.linear(h, outFeatures: c.hidden, name: "dense"))
                return try nn.layerNorm(d, name: "LayerNorm", eps: c.eps)
            }
            let table = try nn.existingParameter("embeddings.word_embeddings.weight")
            let bias = try nn.parameter("bias", [c.vocabulary], initializer: .zeros)
            return try nn.apply(t, weight: table, bias: bias)
        }
    }
}

extension Layers {
    /// Exact GELU.
    func gelu(_ x: Value) throws -> Value { try graph.gelu(x) }
}
