import GraphIR
import GraphNN

/// The two graphs of stage-2 generation with a fixed-capacity KV cache (spec §5.4). Names are the contract with
/// `Generator`:
///
/// - prefill — inputs `pixel_values` [R, C, H, W], `input_ids` [R, P] (the prompt, at least BOS for decoder-only
///   models; the encoder prefix with `</s>` for T5). Outputs `past.key.{j}` / `past.value.{j}`
///   [R, kvHeads, capacity, headDim] and, for decoder-only models, `logits` [R, V] of the last prompt position;
///   T5 outputs `static.cross_key.{j}` / `static.cross_value.{j}` (encoder keys/values, fixed for the whole run).
/// - decode — inputs `input_ids` [R, 1], `position` i32[] (absolute position of that token), every `past.*` and
///   `static.*` tensor, and for T5 `relative_buckets` i32[1, capacity]; outputs `logits` [R, V] and
///   `present.key.{j}` / `present.value.{j}` (the caches with the new token written at `position`).
///
/// Positions count the Q soft-prompt tokens for decoder-only models (the first prompt token sits at Q).
/// With `paddedPrompts` the prefill also takes `attention_mask` and the decode step `position_ids` and `key_bias`.
public struct GenerationGraphs {
    public var config: BLIP2Config
    public var prefill: Graph
    public var decode: Graph
    public var rows: Int
    public var capacity: Int
    /// Sequence length the prefill writes into the cache (Q + prompt for decoder-only; 0 for T5's decoder).
    public var prefilled: Int
    public var promptLength: Int
    /// Graphs for batches of prompts of different lengths; the prefill takes an `attention_mask` [R, P].
    /// Decoder-only models take the prompts left-padded (HF's batched-generation layout): positions follow HF's
    /// `cumsum(mask) − 1` rule, padded keys are hidden by a data bias, and the decode graph takes `position_ids`
    /// [R, 1] and `key_bias` [R, 1, 1, capacity]. T5 takes the encoder prefix right-padded: the encoder and the
    /// cross-attention mask keys by count (`static.encoder_lens`).
    public var paddedPrompts: Bool

    /// Builds both graphs for `rows` sequences (batch × beams), prompts of `promptLength` tokens and room for
    /// `maxNewTokens` generated tokens.
    public static func build(config c: BLIP2Config, rows: Int, promptLength: Int, maxNewTokens: Int,
                             paddedPrompts: Bool = false) throws -> GenerationGraphs {
        try c.validate()
        guard rows > 0, promptLength > 0, maxNewTokens > 0 else {
            throw GraphError(.build, "generation graphs need rows, promptLength and maxNewTokens > 0 (got \(rows), \(promptLength), \(maxNewTokens))")
        }
        let q = c.qformer.numQueryTokens
        let capacity = c.llm.kind == .t5 ? maxNewTokens + 1 : q + promptLength + maxNewTokens
        if c.llm.kind == .opt && capacity > c.llm.maxPositions {
            throw GraphError(.build, "generation: \(capacity) positions exceed the OPT position table (\(c.llm.maxPositions))")
        }
        let prefill = try buildPrefill(c, rows: rows, promptLength: promptLength, capacity: capacity, paddedPrompts: paddedPrompts)
        let decode = try buildDecode(c, rows: rows, capacity: capacity, encoderLength: q + promptLength, paddedPrompts: paddedPrompts)
        return GenerationGraphs(config: c, prefill: prefill, decode: decode, rows: rows, capacity: capacity,
                                prefilled: c.llm.kind == .t5 ? 0 : q + promptLength, promptLength: promptLength,
                                paddedPrompts: paddedPrompts)
    }

    static func layers(_ g: Graph) -> (trainable: Layers, frozen: Layers) {
        (Layers(g, role: .trainable), Layers(g, role: .frozen, weightInit: .truncatedBertNormal))
    }

    static func buildPrefill(_ c: BLIP2Config, rows: Int, promptLength: Int, capacity: Int, paddedPrompts: Bool = false) throws -> Graph {
        let g = Graph(name: "blip2_\(c.name)_\(c.llm.kind.rawValue)_prefill")
        let (trainable, frozen) = layers(g)
        let v = c.vision
        let pixels = try g.input("pixel_values", [rows, v.channels, v.imageSize, v.imageSize])
        let ids = try g.input("input_ids", [rows, promptLength], .i32)
        let image = try VisionEncoder.build(pixels, config: v, encoder: frozen, trainable: trainable)
        let prompt = try trainable.pass("stage2") { nn in try Stage2.softPrompt(nn, c, image: image, dropoutSeed: nil).prompt }
        func padded(_ x: Value) throws -> Value {
            let l = g.type(of: x).shape[2]
            return try g.pad(x, low: [0, 0, 0, 0], high: [0, 0, capacity - l, 0])
        }
        switch c.llm.kind {
        case .opt, .llama:
            let x = try g.concat([prompt, DecoderLM.embedTokens(frozen, c.llm, ids: ids)], axis: 1)
            let length = g.type(of: x).shape[1]
            var positions = try g.iota([length], axis: 0)
            var keyBias: Value?
            if paddedPrompts {
                let mask = try g.input("attention_mask", [rows, promptLength], .i32)
                (positions, keyBias) = try g.scope("left_padding") {
                    try paddedPositions(g, mask: g.concat([g.constant(1, shape: [rows, c.qformer.numQueryTokens], .i32), mask], axis: 1))
                }
            }
            let stack = try DecoderLM.stack(frozen, c.llm, embeddings: x, positions: positions, lens: nil, keyBias: keyBias)
            let last = try g.slice(stack.hidden, axis: 1, (length - 1)..<length)
            g.output("logits", try g.reshape(DecoderLM.logits(frozen, c.llm, hidden: last), [rows, c.llm.vocabulary]))
            for j in 0..<c.llm.layers {
                g.output("past.key.\(j)", try padded(stack.keys[j]))
                g.output("past.value.\(j)", try padded(stack.values[j]))
            }
        case .t5:
            let x = try g.concat([prompt, T5LM.embedTokens(frozen, c.llm, ids: ids)], axis: 1)
            var lens: Value?
            if paddedPrompts {
                let mask = try g.input("attention_mask", [rows, promptLength], .i32)
                let counted = try g.add(g.reduceSum(mask, axes: [1]), g.constant(Double(c.qformer.numQueryTokens), shape: [], .i32))
                g.output("static.encoder_lens", counted)
                lens = counted
            }
            let encoded = try T5LM.encode(frozen, c.llm, embeddings: x, lens: lens)
            try frozen.scope("language_model.decoder") {
                for j in 0..<c.llm.layers {
                    let kv = try g.scope("block.\(j).layer.1.EncDecAttention") { try frozen.projectKeyValues(encoded, layout: c.llm.layout, names: .t5) }
                    g.output("static.cross_key.\(j)", kv.keys)
                    g.output("static.cross_value.\(j)", kv.values)
                    let empty = try g.constant(0, shape: [rows, c.llm.kvHeads, capacity, c.llm.headDim])
                    g.output("past.key.\(j)", empty)
                    g.output("past.value.\(j)", empty)
                }
            }
        }
        return g
    }

    /// HF's positions for a padded batch, `cumsum(mask) · mask − 1` (a GEMM with an upper-triangular matrix of
    /// ones), and the key bias `[B, 1, 1, L]`: 0 on real tokens, −10000 on padding.
    static func paddedPositions(_ g: Graph, mask: Value) throws -> (positions: Value, keyBias: Value) {
        let s = g.type(of: mask).shape
        let upper = (0..<(s[1] * s[1])).map { $0 / s[1] <= $0 % s[1] ? 1.0 : 0.0 }
        let running = try g.matmul(g.cast(mask, to: .f32), g.constant(Tensor(.f32, [s[1], s[1]], upper)))
        let positions = try g.binary(.sub, g.mul(g.cast(running, to: .i32), mask), scalar: 1)
        let real = try g.emit(.eq, [mask, g.constant(1, shape: [], .i32)])
        let bias = try g.select(real, g.constant(0, shape: []), g.constant(-10_000, shape: []))
        return (positions, try g.reshape(bias, [s[0], 1, 1, s[1]]))
    }

    static func buildDecode(_ c: BLIP2Config, rows: Int, capacity: Int, encoderLength: Int, paddedPrompts: Bool = false) throws -> Graph {
        let g = Graph(name: "blip2_\(c.name)_\(c.llm.kind.rawValue)_decode")
        let (_, frozen) = layers(g)
        let l = c.llm
        let ids = try g.input("input_ids", [rows, 1], .i32)
        let position = try g.input("position", [], .i32)
        let cacheShape = [rows, l.kvHeads, capacity, l.headDim]
        var caches: [KVCacheSlot] = []
        for j in 0..<l.layers {
            caches.append(KVCacheSlot(keys: try g.input("past.key.\(j)", cacheShape), values: try g.input("past.value.\(j)", cacheShape),
                                      position: position))
        }
        let hidden: Value
        var keys: [Value], values: [Value]
        switch l.kind {
        case .opt, .llama:
            let x = try DecoderLM.embedTokens(frozen, l, ids: ids)
            let positions = paddedPrompts ? try g.input("position_ids", [rows, 1], .i32) : try g.reshape(position, [1])
            let keyBias = paddedPrompts ? try g.input("key_bias", [rows, 1, 1, capacity]) : nil
            let stack = try DecoderLM.stack(frozen, l, embeddings: x, positions: positions, lens: nil, caches: caches, keyBias: keyBias)
            (hidden, keys, values) = (stack.hidden, stack.keys, stack.values)
        case .t5:
            var cross: [(keys: Value, values: Value)] = []
            let crossShape = [rows, l.kvHeads, encoderLength, l.headDim]
            for j in 0..<l.layers {
                cross.append((try g.input("static.cross_key.\(j)", crossShape), try g.input("static.cross_value.\(j)", crossShape)))
            }
            let buckets = try g.input("relative_buckets", [1, capacity], .i32)
            let encoderLens = paddedPrompts ? try g.input("static.encoder_lens", [rows], .i32) : nil
            let d = try T5LM.decode(frozen, l, ids: ids, encoderHidden: nil, encoderLens: encoderLens, caches: caches, buckets: buckets,
                                    crossKeyValues: cross)
            (hidden, keys, values) = (d.hidden, d.keys, d.values)
        }
        let logits = l.kind == .t5 ? try T5LM.logits(frozen, l, hidden: hidden) : try DecoderLM.logits(frozen, l, hidden: hidden)
        g.output("logits", try g.reshape(logits, [rows, l.vocabulary]))
        for j in 0..<l.layers {
            g.output("present.key.\(j)", keys[j])
            g.output("present.value.\(j)", values[j])
        }
        return g
    }
}
