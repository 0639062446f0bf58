import Foundation
import GraphIR
import GraphRuntime
import GraphIO
import BLIP2

/// BERT checkpoint names → the graph's Q-Former names, as LAVIS initialises the Q-Former from BERT (spec §3.5,
/// renamed per §7.5): self-attention, FFN, word/position embeddings and the embedding LayerNorm are copied; the
/// text FFN is also copied into the query FFN (`*_query`); an MLM head (`cls.predictions.transform.*`, `bias`)
/// is taken when present. Cross-attention, `query_tokens`, projections and the ITM head stay freshly initialised.
public enum BertQFormerMapping {
    /// The graph names a BERT tensor initialises (empty: not used). A `bert.` prefix is accepted.
    public static func targets(_ key: String) -> [String] {
        let k = key.hasPrefix("bert.") ? String(key.dropFirst("bert.".count)) : key
        switch k {
        case "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight", "cls.predictions.bias":
            return [k]
        case "embeddings.LayerNorm.weight": return ["qformer.layernorm.weight"]
        case "embeddings.LayerNorm.bias": return ["qformer.layernorm.bias"]
        default: break
        }
        if k.hasPrefix("cls.predictions.transform.") { return [k] }
        let parts = k.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 6, parts[0] == "encoder", parts[1] == "layer", let layer = Int(parts[2]) else { return [] }
        let base = "qformer.encoder.layer.\(layer)."
        let tail = parts[4...].joined(separator: ".")
        switch parts[3] {
        case "attention" where parts[4] == "self":
            return [base + "attention.attention." + parts[5...].joined(separator: ".")]
        case "attention" where parts[4] == "output":
            return [base + "attention." + tail]
        case "intermediate", "output":
            return [base + parts[3] + "." + tail, base + parts[3] + "_query." + tail]
        default:
            return []
        }
    }

    /// Graph parameters that must come from the checkpoint: everything the mapping can produce except the optional
    /// MLM head (a plain `BertModel` has none).
    static func isRequired(_ graphName: String) -> Bool {
        (graphName.hasPrefix("qformer.") && !graphName.contains(".crossattention.")) || graphName.hasPrefix("embeddings.")
    }

    /// Rows the vocabulary grows by (BLIP-2's `[DEC]`): word-embedding rows drawn like the table's other rows
    /// (N(0, 0.02), seeded by name); the MLM output bias starts at zero.
    static func extraRows(seed: Int) -> (String, Int) -> [Float] {
        { name, count in
            guard name == "embeddings.word_embeddings.weight" else { return [Float](repeating: 0, count: count) }
            return Initializer.normal(std: 0.02).values(count: count, seed: seed, name: name + "[DEC]").map(Float.init)
        }
    }

    /// Loads a BERT checkpoint into `store` for graph `g` (its trainable parameters). Errors name mismatched
    /// shapes, and any self-attention, FFN or embedding parameter the checkpoint does not give.
    public static func load(_ checkpoint: SafetensorsCheckpoint, into store: ParameterStore, for g: Graph, seed: Int) throws -> CheckpointLoadReport {
        let expected = CheckpointMapping.parameterShapes(g, roles: [.trainable])
        let report = try CheckpointMapping.load(checkpoint, rename: targets, expected: expected, into: store,
                                                appendRows: ["embeddings.word_embeddings.weight", "cls.predictions.bias"],
                                                extraRows: extraRows(seed: seed))
        let lacking = report.missing.filter(isRequired)
        guard lacking.isEmpty else {
            throw TrainingError("--qformer-init: the BERT checkpoint lacks \(lacking.count) tensors the Q-Former takes from it: "
                                + foldLayerIndices(lacking).joined(separator: ", "))
        }
        return report
    }
}

extension TinyRecipe {
    /// Q-Former sizes from a BERT checkpoint's config.json (checked against its tensors), and the WordPiece
    /// tokenizer of its `vocab.txt` for the Q-Former's text; the LM keeps the word vocabulary.
    mutating func deriveQFormer(from path: String) throws -> String {
        let option = "--qformer-init"
        let label = "\(option) \(path)"
        let ck = try CheckpointMapping.open(path, option: option)
        guard let json = try CheckpointMapping.config(near: path) else {
            throw TrainingError("\(label): no config.json next to the weights (the BERT config gives the number of heads)")
        }
        let prefix = ck.names.contains("bert.embeddings.word_embeddings.weight") ? "bert." : ""
        func shape(_ n: String) throws -> [Int] { try ck.shape(prefix + n, label: label) }
        var d = SizeDerivation(label: label, json: json)
        if let act = json.object["hidden_act"]?.stringValue, act != "gelu" {
            throw TrainingError("\(label): hidden_act is \"\(act)\"; the Q-Former uses exact GELU (\"gelu\")")
        }
        let words = try shape("embeddings.word_embeddings.weight")
        var q = config.qformer
        q.hidden = try d.fromShape("hidden", words[1], jsonKey: "hidden_size", source: "word_embeddings")
        let rows = try d.fromShape("vocabulary", words[0], jsonKey: "vocab_size", source: "word_embeddings")
        q.maxPositions = try d.fromShape("positions", shape("embeddings.position_embeddings.weight")[0], jsonKey: "max_position_embeddings",
                                         source: "position_embeddings")
        let layers = CheckpointMapping.layerCount(ck.names, prefix: prefix + "encoder.layer.")
        guard layers > 0 else { throw TrainingError("\(label): no encoder.layer.N tensors") }
        q.layers = try d.fromShape("layers", layers, jsonKey: "num_hidden_layers", source: "encoder.layer.N")
        q.intermediate = try d.fromShape("intermediate", shape("encoder.layer.0.intermediate.dense.weight")[0], jsonKey: "intermediate_size",
                                         source: "intermediate.dense")
        guard let heads = d.jsonInt("num_attention_heads"), heads > 0, q.hidden % heads == 0 else {
            throw TrainingError("\(label): config.json needs num_attention_heads dividing hidden_size \(q.hidden)")
        }
        q.heads = heads
        d.notes.append("heads \(heads) (config.json)")
        if let eps = d.jsonDouble("layer_norm_eps") { q.eps = eps }
        if let p = d.jsonDouble("hidden_dropout_prob") { q.hiddenDropout = p }
        let vocabPath = URL(fileURLWithPath: json.path).deletingLastPathComponent()
            .appendingPathComponent("vocab.txt").path
        guard FileManager.default.fileExists(atPath: vocabPath) else {
            throw TrainingError("\(label): no vocab.txt next to the weights (the Q-Former's text uses the checkpoint's WordPiece vocabulary)")
        }
        let encoder = try WordPieceEncoder(vocabPath: vocabPath)
        let listed = encoder.tokenizer.vocab.count
        guard listed == rows else {
            throw TrainingError("\(label): vocab.txt lists \(listed) tokens, word_embeddings has \(rows) rows")
        }
        guard qformerTextLength <= q.maxPositions else {
            throw TrainingError("\(label): the Q-Former text length \(qformerTextLength) exceeds the checkpoint's \(q.maxPositions) positions")
        }
        q.vocabulary = encoder.vocabularySize
        q.padTokenId = encoder.pad
        q.clsTokenId = encoder.cls
        q.sepTokenId = encoder.sep
        q.decTokenId = encoder.dec
        d.notes.append("text: WordPiece \(vocabPath) (\(listed) tokens, [DEC] = \(encoder.dec))")
        config.qformer = q
        qformerTokenizer = encoder
        return d.summary()
    }
}

extension TinyPipeline {
    /// Starts the Q-Former from the BERT checkpoint of `--qformer-init` (no-op without one). Runs before any
    /// executable binds `store`, so the executables initialise only what the checkpoint does not give.
    func initializeQFormer(into store: ParameterStore, for g: Graph) throws {
        guard let path = recipe.checkpoints.qformerInit else { return }
        let report = try BertQFormerMapping.load(CheckpointMapping.open(path, option: "--qformer-init"), into: store, for: g,
                                                 seed: settings.compiler.seed)
        if settings.verbose {
            FileHandle.standardError.write((report.summary("--qformer-init \(path)", missingMeans: "newly initialized") + "\n").data(using: .utf8)!)
        }
    }
}
