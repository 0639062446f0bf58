import GraphIR
import GraphNN

/// Stage 2 (spec §5): the query-only Q-Former output, projected to the LLM width by `language_projection`,
/// is the soft visual prompt in front of the text of a frozen LLM.
public enum Stage2 {
    public struct Outputs {
        public var loss: Value
        public var logits: Value
        public var queryOutput: Value
        public var projection: Value
    }

    /// Q-Former query pass (no text, mask `none`) and `language_projection` → `[B, Q, d_LLM]`.
    public static func softPrompt(_ nn: Layers, _ c: BLIP2Config, image: Value, dropoutSeed: Value?) throws -> (query: Value, prompt: Value) {
        let b = nn.graph.type(of: image).shape[0]
        let queries = try QFormer.queryTokens(nn, c.qformer, batch: b)
        let z = try QFormer.run(nn, c.qformer, QFormerPass(queries: queries, textIds: nil, image: image), dropoutSeed: dropoutSeed)
        return (z, try nn.linear(z, outFeatures: c.llm.hidden, name: "language_projection"))
    }

    /// The LM loss for the configured LLM. Decoder-only: `ids`/`mask` are the text `[B, T]` and `labels` its
    /// targets (−100 ignored); the graph puts −100 on the Q prompt positions and shifts. T5: `ids`/`mask` are the
    /// encoder prefix and `labels` the decoder targets (prefix-LM).
    public static func build(trainable: Layers, frozen: Layers, _ c: BLIP2Config, image: Value, ids: Value, mask: Value,
                             labels: Value, dropoutSeed: Value?) throws -> Outputs {
        try trainable.pass("stage2") { trainable in
            try buildLoss(trainable: trainable, frozen: frozen.inSamePass(as: trainable), c, image: image, ids: ids, mask: mask,
                          labels: labels, dropoutSeed: dropoutSeed)
        }
    }

    /// OPT's position ids as transformers derives them from the attention mask, `cumsum(mask) * mask - 1`: for
    /// right-padded rows `j` at valid positions and −1 (row 1 of `embed_positions`) at padded ones. Valid
    /// positions never see padded ones, so this only makes padded positions' logits equal transformers'.
    static func optPositions(_ g: Graph, lens: Value, batch: Int, length: Int) throws -> Value {
        let index = try g.iota([batch, length], axis: 1)
        let valid = try g.binary(.lt, index, g.reshape(lens, [batch, 1]))
        return try g.select(valid, index, g.constant(-1, shape: [batch, length], .i32))
    }

    static func buildLoss(trainable: Layers, frozen: Layers, _ c: BLIP2Config, image: Value, ids: Value, mask: Value,
                          labels: Value, dropoutSeed: Value?) throws -> Outputs {
        let g = trainable.graph
        let (z, prompt) = try softPrompt(trainable, c, image: image, dropoutSeed: dropoutSeed)
        let (b, t) = (g.type(of: ids).shape[0], g.type(of: ids).shape[1])
        let q = c.qformer.numQueryTokens
        let lens = try g.add(g.reduceSum(mask, axes: [1]), g.constant(Double(q), shape: [], .i32))
        switch c.llm.kind {
        case .opt, .llama:
            guard g.type(of: labels).shape == [b, t] else {
                throw GraphError(.build, "stage 2 (\(c.llm.kind.rawValue)): labels must be [\(b), \(t)] like input_ids, got \(g.type(of: labels).shape)")
            }
            let x = try g.concat([prompt, DecoderLM.embedTokens(frozen, c.llm, ids: ids)], axis: 1)
            let positions = c.llm.kind == .opt ? try optPositions(g, lens: lens, batch: b, length: q + t) : try g.iota([q + t], axis: 0)
            let stack = try DecoderLM.stack(frozen, c.llm, embeddings: x, positions: positions, lens: lens)
            let logits = try DecoderLM.logits(frozen, c.llm, hidden: stack.hidden)
            let fullLabels = try g.concat([g.constant(-100, shape: [b, q], .i32), labels], axis: 1)
            let loss = try g.scope("loss") { try frozen.causalLMLoss(logits: logits, labels: fullLabels) }
            return Outputs(loss: loss, logits: logits, queryOutput: z, projection: prompt)
        case .t5:
            let x = try g.concat([prompt, T5LM.embedTokens(frozen, c.llm, ids: ids)], axis: 1)
            let encoded = try T5LM.encode(frozen, c.llm, embeddings: x, lens: lens)
            let decoderIds = try T5LM.shiftRight(g, c.llm, labels: labels)
            let decoded = try T5LM.decode(frozen, c.llm, ids: decoderIds, encoderHidden: encoded, encoderLens: lens)
            let logits = try T5LM.logits(frozen, c.llm, hidden: decoded.hidden)
            let loss = try g.scope("loss") { try frozen.crossEntropyLoss(logits: logits, labels: labels) }
            return Outputs(loss: loss, logits: logits, queryOutput: z, projection: prompt)
        }
    }
}
