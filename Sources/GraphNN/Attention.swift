import GraphIR

/// How the heads of an attention block are laid out. `kvHeads < heads` is grouped-query attention
/// (query head `h` reads key/value head `h / (heads / kvHeads)`, as the `attention` op defines).
public struct HeadLayout: Sendable, Equatable {
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int

    public init(heads: Int, kvHeads: Int? = nil, headDim: Int) {
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        self.headDim = headDim
    }
}

/// Names of the four projections relative to the attention block's scope, and which carry biases.
public struct AttentionNames: Sendable, Equatable {
    public var query, key, value, output: String
    public var projectionBias: Bool
    public var outputBias: Bool

    public init(query: String, key: String, value: String, output: String, projectionBias: Bool, outputBias: Bool) {
        (self.query, self.key, self.value, self.output) = (query, key, value, output)
        self.projectionBias = projectionBias
        self.outputBias = outputBias
    }

    /// BERT / Q-Former: `attention.{query,key,value}`, `output.dense` (the output LayerNorm is the caller's).
    public static let bert = AttentionNames(query: "attention.query", key: "attention.key", value: "attention.value",
                                            output: "output.dense", projectionBias: true, outputBias: true)
    /// OPT: `q_proj`, `k_proj`, `v_proj`, `out_proj`, all with bias.
    public static let opt = AttentionNames(query: "q_proj", key: "k_proj", value: "v_proj", output: "out_proj",
                                           projectionBias: true, outputBias: true)
    /// T5: `q`, `k`, `v`, `o`, no biases.
    public static let t5 = AttentionNames(query: "q", key: "k", value: "v", output: "o", projectionBias: false, outputBias: false)
    /// LLaMA: `q_proj` … `o_proj`, no biases.
    public static let llama = AttentionNames(query: "q_proj", key: "k_proj", value: "v_proj", output: "o_proj",
                                             projectionBias: false, outputBias: false)
}

/// A fixed-capacity key/value cache for one attention block: `[B, kvHeads, capacity, headDim]` tensors and the
/// write position (an `i32[]` value). One decode graph then serves every step: the new key is written at
/// `position` and keys at `>= position + 1` are hidden by key padding.
public struct KVCacheSlot {
    public var keys: Value
    public var values: Value
    public var position: Value
    public init(keys: Value, values: Value, position: Value) {
        self.keys = keys
        self.values = values
        self.position = position
    }
}

/// Everything besides the input that shapes one attention call.
public struct AttentionOptions {
    public var mask: MaskPattern
    /// Valid key counts `i32[B]` (keys at or after the count are padding).
    public var lens: Value?
    /// Additive bias broadcastable to `[B, H, Lq, Lk]` (T5 relative positions, or a mask built as ordinary ops).
    public var bias: Value?
    /// Score scale; nil means 1/sqrt(headDim). T5 uses 1.
    public var scale: Double?
    /// Rotary embedding applied to queries and keys, at these `i32[Lq]` positions.
    public var rotary: RotaryEmbedding?
    public var positions: Value?
    /// Decode-step cache (requires one new token).
    public var cache: KVCacheSlot?
    /// Keys and values already in head layout `[B, kvHeads, Lk, headDim]` (cached cross-attention); the key and
    /// value projections are then not built.
    public var precomputedKeyValues: (keys: Value, values: Value)?

    public init(mask: MaskPattern = .none, lens: Value? = nil, bias: Value? = nil, scale: Double? = nil,
                rotary: RotaryEmbedding? = nil, positions: Value? = nil, cache: KVCacheSlot? = nil,
                precomputedKeyValues: (keys: Value, values: Value)? = nil) {
        self.mask = mask
        self.lens = lens
        self.bias = bias
        self.scale = scale
        self.rotary = rotary
        self.positions = positions
        self.cache = cache
        self.precomputedKeyValues = precomputedKeyValues
    }
}

/// The output of an attention block and the keys/values it attended over (the cache to keep).
public struct AttentionResult {
    public var output: Value
    public var keys: Value
    public var values: Value
}

extension Layers {
    /// `[B, L, H·D]` → `[B, H, L, D]`.
    public func splitHeads(_ x: Value, heads: Int, headDim: Int, file: String = #fileID, line: Int = #line) throws -> Value {
        let s = graph.type(of: x).shape
        guard s.count == 3, s[2] == heads * headDim else {
            throw GraphError(.build, "\(SourceLocation(file: file, line: line)): split_heads in scope '\(graph.currentScope)': "
                + "expected [B, L, \(heads * headDim)], got \(s)")
        }
        let r = try graph.reshape(x, [s[0], s[1], heads, headDim], file: file, line: line)
        return try graph.transpose(r, [0, 2, 1, 3], file: file, line: line)
    }

    /// `[B, H, L, D]` → `[B, L, H·D]`.
    public func mergeHeads(_ x: Value, file: String = #fileID, line: Int = #line) throws -> Value {
        let s = graph.type(of: x).shape
        let t = try graph.transpose(x, [0, 2, 1, 3], file: file, line: line)
        return try graph.reshape(t, [s[0], s[2], s[1] * s[3]], file: file, line: line)
    }

    /// Projects `context` to keys and values in head layout (for cross-attention caches).
    public func projectKeyValues(_ context: Value, layout: HeadLayout, names: AttentionNames,
                                 file: String = #fileID, line: Int = #line) throws -> (keys: Value, values: Value) {
        let kvWidth = layout.kvHeads * layout.headDim
        let k = try linear(context, outFeatures: kvWidth, name: names.key, bias: names.projectionBias, file: file, line: line)
        let v = try linear(context, outFeatures: kvWidth, name: names.value, bias: names.projectionBias, file: file, line: line)
        return (try splitHeads(k, heads: layout.kvHeads, headDim: layout.headDim, file: file, line: line),
                try splitHeads(v, heads: layout.kvHeads, headDim: layout.headDim, file: file, line: line))
    }

    /// Multi-head attention of `x` over `context` (self-attention when nil), with separate q/k/v/output
    /// projections named by `names` under the current scope. The output has `outFeatures` (default: `x`'s width).
    public func multiHeadAttention(_ x: Value, context: Value? = nil, layout: HeadLayout, names: AttentionNames,
                                   options: AttentionOptions = AttentionOptions(), outFeatures: Int? = nil,
                                   file: String = #fileID, line: Int = #line) throws -> AttentionResult {
        let q = try linear(x, outFeatures: layout.heads * layout.headDim, name: names.query, bias: names.projectionBias,
                           file: file, line: line)
        let qh = try splitHeads(q, heads: layout.heads, headDim: layout.headDim, file: file, line: line)
        let kv = try options.precomputedKeyValues
            ?? projectKeyValues(context ?? x, layout: layout, names: names, file: file, line: line)
        let core = try attendHeads(qh, keys: kv.keys, values: kv.values, options: options, file: file, line: line)
        let out = try linear(mergeHeads(core.output, file: file, line: line), outFeatures: outFeatures ?? width(x),
                             name: names.output, bias: names.outputBias, file: file, line: line)
        return AttentionResult(output: out, keys: core.keys, values: core.values)
    }

    /// The attention core on head-layout tensors: rotary, cache write, then the `attention` op with the mask
    /// attribute. Returns the per-head output `[B, H, Lq, Dv]` and the keys/values used.
    public func attendHeads(_ q: Value, keys: Value, values: Value, options: AttentionOptions,
                            file: String = #fileID, line: Int = #line) throws -> AttentionResult {
        var (q, k, v) = (q, keys, values)
        if let rotary = options.rotary {
            guard let positions = options.positions else {
                throw GraphError(.build, "\(SourceLocation(file: file, line: line)): rotary attention in scope '\(graph.currentScope)' needs positions")
            }
            q = try rotary.apply(graph, q, positions: positions, file: file, line: line)
            k = try rotary.apply(graph, k, positions: positions, file: file, line: line)
        }
        var lens = options.lens
        var mask = options.mask
        if let cache = options.cache {
            let qs = graph.type(of: q).shape
            guard qs[2] == 1 else {
                throw GraphError(.build, "\(SourceLocation(file: file, line: line)): cached attention in scope '\(graph.currentScope)' takes one new token, got \(qs[2])")
            }
            k = try writeCache(cache.keys, k, at: cache.position, file: file, line: line)
            v = try writeCache(cache.values, v, at: cache.position, file: file, line: line)
            let one = try graph.constant(1, shape: [], .i32, file: file, line: line)
            let count = try graph.add(cache.position, one, file: file, line: line)
            let cacheLens = try graph.broadcast(count, to: [qs[0]], file: file, line: line)
            lens = try lens.map { try graph.minimum($0, cacheLens, file: file, line: line) } ?? cacheLens
            mask = .none
        }
        let o = try graph.attention(q, k, v, mask: mask, lens: lens, bias: options.bias, scale: options.scale, file: file, line: line)
        return AttentionResult(output: o, keys: k, values: v)
    }

    /// Writes a one-token `[B, H, 1, D]` slice into a `[B, H, capacity, D]` cache at `position` (an `i32[]`).
    public func writeCache(_ cache: Value, _ new: Value, at position: Value, file: String = #fileID, line: Int = #line) throws -> Value {
        let capacity = graph.type(of: cache).shape[2]
        let slots = try graph.iota([1, 1, capacity, 1], axis: 2, file: file, line: line)
        let hit = try graph.emit(.eq, [slots, position], file: file, line: line)
        return try graph.select(hit, new, cache, file: file, line: line)
    }
}
