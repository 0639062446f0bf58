import GraphIO
import GraphIR

/// Which Hugging Face head `graphc blip2 run` evaluates.
public enum RunModel: String, Sendable, CaseIterable {
    /// `Blip2ForConditionalGeneration` (also reads `Blip2Model` checkpoints): LLM logits and LM loss.
    case conditionalGeneration = "conditional-generation"
    /// `Blip2ForImageTextRetrieval`: ITM logits and ITC similarities.
    case retrieval

    /// The checkpoint classes whose keys this head reads.
    public var architectures: [HFArchitecture] {
        switch self {
        case .conditionalGeneration: return [.conditionalGeneration, .model]
        case .retrieval: return [.retrieval]
        }
    }
}

/// The inputs of one run, named as the `transformers` forward arguments, checked against the config and
/// split into the parts the graph takes.
///
/// `input_ids` follow the current HF processor: with `image_token_index` set, each row starts with
/// `num_query_tokens` `<image>` placeholders whose embeddings the model replaces by the projected queries.
/// Checkpoints without `image_token_index` take text-only ids and the queries are put in front, which is the
/// same sequence (older transformers releases did exactly that).
public struct RunInputs: Sendable {
    /// [B, 3, S, S] f32.
    public var pixelValues: Tensor
    /// [B, T] text ids after the placeholders.
    public var textIds: [[Int]]
    /// [B, T] 0/1 mask of the text part (the placeholders always attend).
    public var textMask: [[Int]]
    /// OPT: [B, Ll] labels aligned with the last Ll positions of [queries ; text]; T5: decoder targets [B, Ld].
    /// -100 marks ignored positions.
    public var labels: [[Int]]?

    public var batch: Int { textIds.count }
    public var textLength: Int { textIds.first?.count ?? 0 }

    public static let allowedNames: Set<String> = ["pixel_values", "input_ids", "attention_mask", "labels"]

    /// Reads and checks an inputs file; every error names the file, the tensor and what is wrong.
    public static func load(path: String, config: HFBlip2Config, model: RunModel) throws -> RunInputs {
        let file = try SafetensorsFile(path: path)
        var tensors: [String: Tensor] = [:]
        for name in file.names {
            guard allowedNames.contains(name) else {
                throw GraphIOError(.safetensors, "\(path): unknown input '\(name)'; expected \(allowedNames.sorted().joined(separator: ", "))")
            }
            tensors[name] = try file.tensor(name)
        }
        return try RunInputs(tensors: tensors, config: config, model: model, source: path)
    }

    /// Checks tensors already in memory (the same rules as `load`).
    public init(tensors: [String: Tensor], config: HFBlip2Config, model: RunModel, source: String = "inputs") throws {
        func fail(_ message: String) -> GraphIOError { GraphIOError(.safetensors, "\(source): \(message)") }
        for name in tensors.keys where !Self.allowedNames.contains(name) {
            throw fail("unknown input '\(name)'")
        }
        guard let pixels = tensors["pixel_values"] else { throw fail("missing 'pixel_values'") }
        guard let ids = tensors["input_ids"] else { throw fail("missing 'input_ids'") }
        let size = config.vision.imageSize
        guard pixels.shape.count == 4, pixels.shape[1] == 3, pixels.shape[2] == size, pixels.shape[3] == size else {
            throw fail("'pixel_values' has shape \(pixels.shape); expected [batch, 3, \(size), \(size)] (vision_config.image_size)")
        }
        guard pixels.dtype.isFloat else { throw fail("'pixel_values' must be floating point, found \(pixels.dtype)") }
        let batch = pixels.shape[0]
        guard ids.shape.count == 2, ids.shape[0] == batch, !ids.dtype.isFloat else {
            throw fail("'input_ids' has shape \(ids.shape) and dtype \(ids.dtype); expected integers of shape [\(batch), length]")
        }
        let length = ids.shape[1]
        var mask = Tensor(.i32, ids.shape, repeating: 1)
        if let given = tensors["attention_mask"] {
            guard given.shape == ids.shape else {
                throw fail("'attention_mask' has shape \(given.shape); expected the shape of 'input_ids' \(ids.shape)")
            }
            if let bad = given.scalars.firstIndex(where: { $0 != 0 && $0 != 1 }) {
                throw fail("'attention_mask' element \(bad) is \(given.scalars[bad]); expected 0 or 1")
            }
            mask = given
        }
        let rows = Self.rows(ids), maskRows = Self.rows(mask)
        let q = config.numQueryTokens
        var textIds: [[Int]] = [], textMask: [[Int]] = []
        let vocabulary = model == .retrieval ? config.qformer.vocabSize : Self.vocabulary(config.text)
        for (b, row) in rows.enumerated() {
            var text = row, textRowMask = maskRows[b]
            if let image = config.imageTokenIndex {
                guard row.count >= q, row.prefix(q).allSatisfy({ $0 == image }) else {
                    throw fail("'input_ids' row \(b) must start with \(q) image placeholders (image_token_index \(image)), as the Blip2Processor writes them")
                }
                if model == .conditionalGeneration, row.dropFirst(q).contains(image) {
                    throw fail("'input_ids' row \(b) has more than \(q) image placeholders (image_token_index \(image))")
                }
                guard maskRows[b].prefix(q).allSatisfy({ $0 == 1 }) else {
                    throw fail("'attention_mask' row \(b) must be 1 at the \(q) image placeholders")
                }
                text = Array(row.dropFirst(q))
                textRowMask = Array(maskRows[b].dropFirst(q))
            }
            // Key padding is a per-row valid length in graphc's attention, so padding must follow the text.
            if let firstPad = textRowMask.firstIndex(of: 0), textRowMask[firstPad...].contains(1) {
                throw fail("'attention_mask' row \(b) has padding before text (position \(firstPad + row.count - text.count)); graphc takes right-padded rows")
            }
            if let bad = text.firstIndex(where: { $0 < 0 || $0 >= vocabulary }) {
                throw fail("'input_ids' row \(b) position \(bad + row.count - text.count) is \(text[bad]), outside the vocabulary of \(vocabulary)")
            }
            textIds.append(text)
            textMask.append(textRowMask)
        }
        if model == .retrieval, let positions = textIds.first?.count, positions > config.qformer.maxPositionEmbeddings {
            throw fail("text length \(positions) exceeds qformer_config.max_position_embeddings \(config.qformer.maxPositionEmbeddings)")
        }
        if case .opt(let opt) = config.text, model == .conditionalGeneration,
           (textIds.first?.count ?? 0) + q > opt.maxPositionEmbeddings {
            throw fail("sequence length \((textIds.first?.count ?? 0) + q) exceeds text_config.max_position_embeddings \(opt.maxPositionEmbeddings)")
        }
        var labels: [[Int]]?
        if let given = tensors["labels"] {
            guard model == .conditionalGeneration else { throw fail("'labels' is only an input of the conditional-generation model") }
            guard given.shape.count == 2, given.shape[0] == batch, !given.dtype.isFloat else {
                throw fail("'labels' has shape \(given.shape) and dtype \(given.dtype); expected integers of shape [\(batch), length]")
            }
            let total = length + (config.imageTokenIndex == nil ? q : 0)
            if !config.isEncoderDecoder, given.shape[1] > total {
                throw fail("'labels' has \(given.shape[1]) positions but the sequence has \(total); HF scores the last labels.shape[1] positions")
            }
            let vocab = Self.vocabulary(config.text)
            if let bad = given.scalars.firstIndex(where: { $0 != -100 && ($0 < 0 || $0 >= Double(vocab)) }) {
                throw fail("'labels' element \(bad) is \(Int(given.scalars[bad])); expected -100 or an id below \(vocab)")
            }
            labels = Self.rows(given)
        }
        self.pixelValues = pixels.cast(to: .f32)
        self.textIds = textIds
        self.textMask = textMask
        self.labels = labels
    }

    /// Decoder-only labels for the text positions only, `[B, T]`: HF scores the last `labels.shape[1]` positions of
    /// [queries ; text]; graphc's stage-2 graph always ignores the query positions, so a label there must be -100.
    public func textLabels(queryCount q: Int) throws -> [[Int]]? {
        guard let labels else { return nil }
        let total = q + textLength
        return try labels.enumerated().map { b, row in
            let full = [Int](repeating: -100, count: total - row.count) + row
            if let bad = full.prefix(q).firstIndex(where: { $0 != -100 }) {
                throw GraphIOError(.safetensors, "'labels' row \(b) scores query position \(bad) (label \(full[bad])); the visual prompt positions must be -100")
            }
            return Array(full.dropFirst(q))
        }
    }

    static func rows(_ t: Tensor) -> [[Int]] {
        let width = t.shape[1]
        return (0..<t.shape[0]).map { b in (0..<width).map { Int(t.scalars[b * width + $0]) } }
    }

    static func vocabulary(_ text: HFTextConfig) -> Int {
        switch text {
        case .opt(let c): return c.vocabSize
        case .t5(let c): return c.vocabSize
        }
    }
}
