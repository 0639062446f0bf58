import GraphIR
import BLIP2

/// The sizes and hyper-parameters of a tiny BLIP-2 run on two CPU cores.
///
/// Widths follow `BLIP2Config.tiny` (ViT 144 wide × 4 blocks on a 4×4 grid of patches, Q-Former 128 wide × 4 layers with
/// 8 queries, a 2-layer 160-wide OPT-style LM); the vocabularies are the word vocabulary of the training captions.
public struct TinyRecipe {
    public var config: BLIP2Config
    public var tokenizer: WordTokenizer
    /// The Q-Former's text encoder when it differs from the word vocabulary (BERT WordPiece after
    /// `initializeQFormer(from:)`); nil = `tokenizer`.
    public var qformerTokenizer: (any TextEncoder)? = nil
    /// Safetensors checkpoints used instead of the pretrained tiny frozen models (see CheckpointMapping.swift).
    public var checkpoints = ModelCheckpoints()
    /// Q-Former text length ([CLS] words [SEP] pad…) and LM text length ([BOS] words [EOS] pad…).
    public var qformerTextLength = 16
    public var lmTextLength = 16
    public var clipBatch = 128
    /// Sizes and objectives of the CLIP pretraining of the tiny ViT (text tower, embedding, caption-word weight).
    public var clipSizes = PretrainSizes()
    public var lmBatch = 128
    public var stage1Batch = 64
    public var stage2Batch = 64
    /// Batch of the evaluation and feature-caching graphs.
    public var evalBatch = 100
    public var seed = 0
    /// The stage-1 objectives and their weights in the loss. BLIP-2 weighs all three 1; with a Q-Former trained
    /// from scratch the ITG gradients swamp the shared weights and ITC stalls (Docs/Training.md, measured), so
    /// ITG is weighed 0.1 here. An objective left out loses its pass from the step (e.g. `[.itc: 1]`).
    public var stage1Objectives: [Stage1Objective: Double] = [.itc: 1, .itm: 1, .itg: 0.1]
    /// Batch items whose ITM triples run each stage-1 step (nil: the whole batch, as BLIP-2). A quarter of the
    /// batch cuts the step to less than half at equal retrieval (Docs/Training.md).
    public var stage1ItmPairs: Int? = 16
    /// Pretrain the LM with a prefix of the caption's content words in the Q slots (see Docs/Training.md).
    public var lmContextPrefix = true

    public init(tokenizer: WordTokenizer, imageSize: Int = 32, llm: LLMKind = .opt) {
        self.tokenizer = tokenizer
        var c = BLIP2Config.tiny(llm: llm)
        c.vision.imageSize = imageSize
        // A 4×4 grid: an 8-pixel patch holds a whole small shape, and a ViT step costs about a third of one on
        // the 8×8 grid, so the ViT pretrains much further in the same minutes (Docs/Training.md, measured).
        c.vision.patchSize = max(1, imageSize / 4)
        let v = tokenizer.count
        c.qformer.vocabulary = v
        c.qformer.padTokenId = tokenizer.pad
        c.qformer.clsTokenId = tokenizer.cls
        c.qformer.sepTokenId = tokenizer.sep
        c.qformer.decTokenId = tokenizer.dec
        c.llm.vocabulary = v
        c.llm.padTokenId = tokenizer.pad
        c.llm.bosTokenId = tokenizer.bos
        c.llm.eosTokenId = tokenizer.eos
        c.llm.maxPositions = max(c.llm.maxPositions, c.qformer.numQueryTokens + lmTextLength)
        config = c
    }

    /// Sets both text lengths to the longest framed caption of `captions` (at most `cap` tokens, the rest is
    /// truncated): every pass then costs what the data needs — the reference set's captions fill 12 of the 16
    /// default slots, so fitting saves a quarter of the text rows. Returns the two lengths.
    @discardableResult
    public mutating func fitTextLengths(to captions: [String], cap: Int = 32) -> (qformer: Int, lm: Int) {
        let q = qformerEncoder, probe = cap + 2
        let qLongest = captions.map { q.encode($0, first: q.cls, last: q.sep, length: probe).count }.max() ?? 2
        let lmLongest = captions.map { tokenizer.encode($0, first: tokenizer.bos, last: tokenizer.eos, length: probe).count }.max() ?? 2
        // Position tables bound the lengths; a loaded LM's table cannot grow.
        qformerTextLength = min(max(qLongest, 3), cap, config.qformer.maxPositions)
        let lmRoom = checkpoints.languageModel == nil ? cap : config.llm.maxPositions - config.qformer.numQueryTokens
        lmTextLength = min(max(lmLongest, 3), cap, lmRoom)
        config.llm.maxPositions = max(config.llm.maxPositions, config.qformer.numQueryTokens + lmTextLength)
        return (qformerTextLength, lmTextLength)
    }

    /// Q-Former text: `[CLS] words [SEP]` padded; returns ids and the attention mask (1 = real token).
    public func qformerText(_ captions: [String]) -> (ids: Tensor, mask: Tensor) {
        let q = qformerEncoder
        return q.encode(captions, first: q.cls, last: q.sep, length: qformerTextLength)
    }

    public var qformerEncoder: any TextEncoder { qformerTokenizer ?? tokenizer }

    /// The CLIP pretraining text (word vocabulary, `[CLS] words [SEP]`), whatever the Q-Former reads.
    public func clipText(_ captions: [String]) -> (ids: Tensor, mask: Tensor) {
        tokenizer.encode(captions, first: tokenizer.cls, last: tokenizer.sep, length: qformerTextLength)
    }

    /// LM text: `[BOS] words [EOS]` padded.
    public func lmText(_ captions: [String]) -> (ids: Tensor, mask: Tensor) {
        tokenizer.encode(captions, first: tokenizer.bos, last: tokenizer.eos, length: lmTextLength)
    }

    /// LM labels: the ids with padding ignored (−100).
    public func labels(ids: Tensor, mask: Tensor) -> Tensor {
        Tensor(.i32, ids.shape, zip(ids.scalars, mask.scalars).map { $1 == 0 ? -100 : $0 })
    }
}

/// BLIP-2's three stage-1 objectives; raw values are the suffixes of the `loss_*` outputs.
public enum Stage1Objective: String, CaseIterable, Hashable {
    case itc, itm, itg
}
