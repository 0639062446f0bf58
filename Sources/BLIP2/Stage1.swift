import GraphIR
import GraphNN

/// The three stage-1 objectives (spec §4), each a Q-Former pass whose attention mask is the objective's
/// attribute on the `attention` op:
///
/// | objective | pass | mask over [Q ; T] |
/// |---|---|---|
/// | ITC | queries + `[CLS]` text, one joint pass | `block([Q, T])` + key padding (uni-modal: the two halves never meet) |
/// | ITM | queries + text for positive and hard-negative pairs | `none` + key padding (bi-directional) |
/// | ITG | queries + `[DEC]` text | `prefix_causal(Q)` + key padding (multi-modal causal) |
///
/// LAVIS runs ITC as two passes (query-only, text-only) and ITG on the cached query keys/values; the joint
/// passes above compute the same numbers (rows are independent except through attention, and the mask
/// removes exactly the cross terms).
public enum Stage1 {
    /// Losses and intermediate values of one stage-1 step.
    public struct Outputs {
        public var loss: Value
        public var itc: Value
        public var itm: Value
        public var itg: Value
        public var imageFeatures: Value
        public var queryOutput: Value
        public var similarity: Value
        public var itmLogits: Value
        public var itgLogits: Value
        public var negativeImages: Value
        public var negativeTexts: Value
    }

    /// Where the ITM hard negatives come from.
    public enum HardNegativeSource {
        /// Drawn in the graph from the similarity softmax with this `i32[]` seed (training; LAVIS draws with
        /// `torch.multinomial`).
        case sampled(seed: Value)
        /// Given as `i32[B]` values: `images[b]` is the negative image paired with text `b`, `texts[b]` the negative
        /// text paired with image `b`. Makes the losses deterministic (the stage-1 parity fixture).
        case given(images: Value, texts: Value)
    }

    /// Builds the three losses. `image` is the post-layernorm vision output `[B, Nv, Dv]`; `ids`/`mask` are the
    /// `[CLS] … [SEP] [PAD]…` text `[B, T]` (`i32`, right-padded); `samplingSeed` drives the hard-negative draws.
    public static func build(_ nn: Layers, _ c: QFormerConfig, image: Value, ids: Value, mask: Value, samplingSeed: Value,
                             dropoutSeed: Value?, maskStyle: MaskStyle = .attribute) throws -> Outputs {
        try build(nn, c, image: image, ids: ids, mask: mask, negatives: .sampled(seed: samplingSeed), dropoutSeed: dropoutSeed,
                  maskStyle: maskStyle)
    }

    /// Builds the three losses with the hard negatives from `negatives` (sampled in the graph, or given).
    /// `itmPairs`: ITM runs on the triples of the first `itmPairs` items only (nil: all, as BLIP-2).
    public static func build(_ nn: Layers, _ c: QFormerConfig, image: Value, ids: Value, mask: Value, negatives: HardNegativeSource,
                             dropoutSeed: Value?, maskStyle: MaskStyle = .attribute, itmPairs: Int? = nil) throws -> Outputs {
        try nn.pass("stage1") { nn in
            try buildObjectives(nn, c, image: image, ids: ids, mask: mask, negatives: negatives, dropoutSeed: dropoutSeed,
                                maskStyle: maskStyle, itmPairs: itmPairs)
        }
    }

    static func buildObjectives(_ nn: Layers, _ c: QFormerConfig, image: Value, ids: Value, mask: Value, negatives: HardNegativeSource,
                                dropoutSeed: Value?, maskStyle: MaskStyle, itmPairs: Int?) throws -> Outputs {
        let g = nn.graph
        let (b, t) = (g.type(of: ids).shape[0], g.type(of: ids).shape[1])
        let m = itmPairs ?? b
        guard m >= 1 && m <= b else { throw GraphError(.build, "stage 1: itmPairs must be in 1...\(b) (the batch), got \(m)") }
        let q = c.numQueryTokens
        guard b >= 2 else { throw GraphError(.build, "stage 1 needs a batch of at least 2 (in-batch negatives), got \(b)") }
        if case .given(let images, let texts) = negatives {
            for (name, v) in [("images", images), ("texts", texts)] where g.type(of: v) != TensorType(.i32, [b]) {
                throw GraphError(.build, "stage 1: given negative \(name) must be i32[\(b)] (one index per batch row), got \(g.type(of: v))")
            }
        }
        let lens = try g.add(g.reduceSum(mask, axes: [1]), g.constant(Double(q), shape: [], .i32))
        let queries = try QFormer.queryTokens(nn, c, batch: b)

        // ITC: one pass, queries and text blind to each other.
        let (itc, simI2T, imageFeats, queryOutput) = try nn.pass("itc") { nn -> (Value, Value, Value, Value) in
            let hidden = try QFormer.run(nn, c, QFormerPass(queries: queries, textIds: ids, mask: .block([q, t]), lens: lens, image: image,
                                                            maskStyle: maskStyle),
                                         dropoutSeed: dropoutSeed)
            let queryOutput = try g.slice(hidden, axis: 1, 0..<q)
            let cls = try g.reshape(g.slice(hidden, axis: 1, q..<(q + 1)), [b, c.hidden])
            let imageFeats = try l2Normalize(g, nn.linear(queryOutput, outFeatures: c.embedDim, name: "vision_projection"))
            let textFeat = try l2Normalize(g, nn.linear(cls, outFeatures: c.embedDim, name: "text_projection"))
            let temp = try nn.parameter("temp", [], initializer: .constant(0.07))
            // sim_i2t[b, j] = max over queries of <image_b,k, text_j> / temp;  sim_t2i is its transpose.
            let perQuery = try g.matmul(g.reshape(imageFeats, [b * q, c.embedDim]), textFeat, transposeB: true)
            let simI2T = try g.div(g.reduceMax(g.reshape(perQuery, [b, q, b]), axes: [1]), temp)
            let simT2I = try g.transpose(simI2T, [1, 0])
            let targets = try g.iota([b], axis: 0)
            let a = try g.crossEntropy(logits: simI2T, labels: targets, labelSmoothing: 0.1)
            let z = try g.crossEntropy(logits: simT2I, labels: targets, labelSmoothing: 0.1)
            return (try g.binary(.mul, g.add(a, z), scalar: 0.5), simI2T, imageFeats, queryOutput)
        }

        // ITM: hard negatives drawn in the graph from the similarity softmax with the positive masked out (or given).
        let (negImages, negTexts): (Value, Value)
        switch negatives {
        case .sampled(let seed): (negImages, negTexts) = try hardNegatives(g, similarity: simI2T, seed: seed)
        case .given(let images, let texts): (negImages, negTexts) = (images, texts)
        }
        let (itm, itmLogits) = try nn.pass("itm") { nn -> (Value, Value) in
            let targets = try g.iota([m], axis: 0)
            let (negI, negT) = m == b ? (negImages, negTexts) : (try g.slice(negImages, axis: 0, 0..<m), try g.slice(negTexts, axis: 0, 0..<m))
            let imageIndex = try g.concat([targets, negI, targets], axis: 0)
            let textIndex = try g.concat([targets, targets, negT], axis: 0)
            let pairIds = try g.gather(ids, textIndex, axis: 0)
            let pairLens = try g.gather(lens, textIndex, axis: 0)
            let hidden = try QFormer.run(nn, c, QFormerPass(queries: QFormer.queryTokens(nn, c, batch: 3 * m), textIds: pairIds,
                                                            mask: .none, lens: pairLens, image: image, imageIndex: imageIndex,
                                                            maskStyle: maskStyle),
                                         dropoutSeed: dropoutSeed)
            let perQueryLogits = try nn.linear(g.slice(hidden, axis: 1, 0..<q), outFeatures: 2, name: "itm_head")
            let logits = try g.reduceMean(perQueryLogits, axes: [1])
            let labels = try g.constant(Tensor(.i32, [3 * m], [Double](repeating: 1, count: m) + [Double](repeating: 0, count: 2 * m)))
            return (try g.crossEntropy(logits: logits, labels: labels), logits)
        }

        // ITG: [DEC] replaces [CLS]; text sees all queries and earlier text; loss on text only.
        let (itg, itgLogits) = try nn.pass("itg") { nn -> (Value, Value) in
            let dec = try g.constant(Double(c.decTokenId), shape: [b, 1], .i32)
            let decIds = try g.concat([dec, g.slice(ids, axis: 1, 1..<t)], axis: 1)
            let hidden = try QFormer.run(nn, c, QFormerPass(queries: queries, textIds: decIds, mask: .prefixCausal(q), lens: lens,
                                                            image: image, maskStyle: maskStyle),
                                         dropoutSeed: dropoutSeed)
            let logits = try QFormer.lmHead(nn, c, g.slice(hidden, axis: 1, q..<(q + t)))
            let isPad = try g.emit(.eq, [decIds, g.constant(Double(c.padTokenId), shape: [], .i32)])
            let labels = try g.select(isPad, g.constant(-100, shape: [], .i32), decIds)
            return (try nn.causalLMLoss(logits: logits, labels: labels, labelSmoothing: 0.1), logits)
        }
        let loss = try g.add(g.add(itc, itm), itg)
        return Outputs(loss: loss, itc: itc, itm: itm, itg: itg, imageFeatures: imageFeats, queryOutput: queryOutput,
                       similarity: simI2T, itmLogits: itmLogits, itgLogits: itgLogits, negativeImages: negImages,
                       negativeTexts: negTexts)
    }

    /// One hard negative per row, drawn in the graph (LAVIS HEAD, spec §4.2): the temperature-scaled
    /// similarities without gradient, the own positive set to −10000, then one categorical draw per row from the
    /// softmax. Returns (negative image for each text, negative text for each image), both `i32[B]`.
    public static func hardNegatives(_ g: Graph, similarity simI2T: Value, seed: Value) throws -> (images: Value, texts: Value) {
        try g.scope("hard_negatives") {
            let b = g.type(of: simI2T).shape[0]
            let eye = try g.emit(.eq, [g.iota([b, b], axis: 0), g.iota([b, b], axis: 1)])
            let blocked = try g.constant(-10_000, shape: [], g.type(of: simI2T).dtype)
            let i2t = try g.select(eye, blocked, g.stopGradient(simI2T))
            let t2i = try g.select(eye, blocked, g.stopGradient(g.transpose(simI2T, [1, 0])))
            return (try g.sampleCategorical(logits: t2i, seed: seed), try g.sampleCategorical(logits: i2t, seed: seed))
        }
    }

    /// `x / max(‖x‖₂, 1e-12)` over the last axis (PyTorch `F.normalize`).
    public static func l2Normalize(_ g: Graph, _ x: Value) throws -> Value {
        let norm = try g.sqrt(g.reduceSum(g.mul(x, x), axes: [-1], keepDims: true))
        return try g.div(x, g.maximum(norm, g.constant(1e-12, shape: [], g.type(of: x).dtype)))
    }
}
