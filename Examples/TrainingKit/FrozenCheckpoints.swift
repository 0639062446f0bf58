import Foundation
import GraphIR
import GraphRuntime
import GraphIO
import BLIP2

/// One of the two frozen unimodal models of BLIP-2.
public enum FrozenPart: String, CaseIterable {
    case vision, languageModel

    /// The graph's name prefix of this model's parameters.
    public var prefix: String { self == .vision ? "vision_model." : "language_model." }
    /// The file the run's own pretraining writes under `frozen/`.
    public var file: String { self == .vision ? "vision.safetensors" : "lm.safetensors" }
    public var option: String { self == .vision ? "--vision-checkpoint" : "--lm-checkpoint" }

    public func checkpointPath(_ c: ModelCheckpoints) -> String? { self == .vision ? c.vision : c.languageModel }

    /// Checkpoint name → graph name: names that carry the prefix are kept; a checkpoint without any prefixed
    /// name (a bare ViT, or an OPT `model.decoder.*` file) gets the prefix added to every name.
    public func renamer(for names: [String]) -> (String) -> [String] {
        let prefixed = names.contains { $0.hasPrefix(prefix) }
        let p = prefix
        return prefixed ? { [$0] } : { [p + $0] }
    }

    /// The checkpoint name of a graph parameter under `renamer(for:)`.
    func key(_ graphName: String, in names: [String]) -> String {
        names.contains { $0.hasPrefix(prefix) } ? graphName : String(graphName.dropFirst(prefix.count))
    }

    /// Loads this model's frozen parameters of `g` from `checkpoint`. Every one must be present: a frozen weight
    /// left at its random initialization would train silently against noise.
    public func load(_ checkpoint: SafetensorsCheckpoint, into store: ParameterStore, for g: Graph) throws -> CheckpointLoadReport {
        let expected = CheckpointMapping.parameterShapes(g, roles: [.frozen]).filter { $0.key.hasPrefix(prefix) }
        let report = try CheckpointMapping.load(checkpoint, rename: renamer(for: checkpoint.names), expected: expected, into: store)
        guard report.missing.isEmpty else {
            throw TrainingError("\(option): the checkpoint lacks \(report.missing.count) tensors the model needs: "
                                + foldLayerIndices(report.missing).joined(separator: ", "))
        }
        return report
    }
}

extension TinyRecipe {
    /// Uses the given checkpoints: sizes of the vision encoder, LM and Q-Former are derived from the checkpoints'
    /// tensor shapes and config.json (never assumed). Returns one line per checkpoint saying where each size
    /// came from; a checkpoint that does not fit the run is an error naming the tensor and the sizes.
    public mutating func useCheckpoints(_ c: ModelCheckpoints) throws -> [String] {
        checkpoints = c
        var lines: [String] = []
        if let v = c.vision { lines.append(try deriveVision(from: v)) }
        if let l = c.languageModel { lines.append(try deriveLanguageModel(from: l)) }
        if let q = c.qformerInit { lines.append(try deriveQFormer(from: q)) }
        try config.validate()
        return lines
    }

    mutating func deriveVision(from path: String) throws -> String {
        let part = FrozenPart.vision
        let ck = try CheckpointMapping.open(path, option: part.option)
        let label = "\(part.option) \(path)"
        func shape(_ n: String) throws -> [Int] { try ck.shape(part.key("vision_model." + n, in: ck.names), label: label) }
        var d = SizeDerivation(label: label, json: try CheckpointMapping.config(near: path, section: "vision_config"))
        let patch = try shape("embeddings.patch_embedding.weight")
        guard patch.count == 4, patch[2] == patch[3] else {
            throw TrainingError("\(label): embeddings.patch_embedding.weight is \(patch), expected [hidden, channels, patch, patch]")
        }
        let pos = try shape("embeddings.position_embedding")
        let side = Int(Double(max(pos.count == 3 ? pos[1] - 1 : 0, 0)).squareRoot().rounded())
        guard pos.count == 3, side > 0, side * side == pos[1] - 1 else {
            throw TrainingError("\(label): embeddings.position_embedding is \(pos), expected [1, 1 + n², hidden] (class token + an n×n patch grid)")
        }
        guard patch[1] == 3 else { throw TrainingError("\(label): the patch embedding takes \(patch[1]) channels; the trainers' images are RGB (3)") }
        var v = config.vision
        v.hidden = try d.fromShape("hidden", patch[0], jsonKey: "hidden_size", source: "patch_embedding.weight")
        v.patchSize = try d.fromShape("patch", patch[2], jsonKey: "patch_size", source: "patch_embedding.weight")
        v.imageSize = try d.fromShape("image size", side * patch[2], jsonKey: "image_size", source: "\(side)×\(side) positions")
        let layers = CheckpointMapping.layerCount(ck.names, prefix: part.key("vision_model.encoder.layers.", in: ck.names))
        guard layers > 0 else { throw TrainingError("\(label): no encoder.layers.N tensors") }
        v.layers = try d.fromShape("layers", layers, jsonKey: "num_hidden_layers", source: "encoder.layers.N")
        v.intermediate = try d.fromShape("intermediate", shape("encoder.layers.0.mlp.fc1.weight")[0], jsonKey: "intermediate_size",
                                         source: "mlp.fc1.weight")
        v.heads = d.fromConfig("heads", jsonKey: "num_attention_heads", recipe: v.heads)
        if let eps = d.jsonDouble("layer_norm_eps") { v.eps = eps }
        guard v.heads > 0, v.hidden % v.heads == 0 else {
            throw TrainingError("\(label): hidden \(v.hidden) is not a multiple of \(v.heads) heads; give the checkpoint a config.json with num_attention_heads")
        }
        config.vision = v
        return d.summary()
    }

    mutating func deriveLanguageModel(from path: String) throws -> String {
        let part = FrozenPart.languageModel
        let ck = try CheckpointMapping.open(path, option: part.option)
        let label = "\(part.option) \(path)"
        guard config.llm.kind == .opt else { throw TrainingError("\(label): only OPT-style decoders are supported as the tiny LM (the recipe's LM is \(config.llm.kind.rawValue))") }
        let stack = "language_model.model.decoder."
        guard ck.names.contains(where: { $0.hasPrefix(part.key(stack, in: ck.names)) }) else {
            throw TrainingError("\(label): no OPT decoder tensors (language_model.model.decoder.* or model.decoder.*); names start with "
                                + Set(ck.names.map { String($0.prefix { $0 != "." }) }).sorted().prefix(5).joined(separator: ", "))
        }
        func shape(_ n: String) throws -> [Int] { try ck.shape(part.key(stack + n, in: ck.names), label: label) }
        var d = SizeDerivation(label: label, json: try CheckpointMapping.config(near: path, section: "text_config"))
        if d.jsonInt("word_embed_proj_dim").map({ $0 != d.jsonInt("hidden_size") }) == true || d.json?.object["do_layer_norm_before"] == .bool(false) {
            throw TrainingError("\(label): OPT variants with project_in/project_out or post-LN (word_embed_proj_dim ≠ hidden_size, do_layer_norm_before false) are not supported")
        }
        let embed = try shape("embed_tokens.weight")
        let positions = try shape("embed_positions.weight")
        var l = config.llm
        l.vocabulary = try d.fromShape("vocabulary", embed[0], jsonKey: "vocab_size", source: "embed_tokens.weight")
        guard l.vocabulary == tokenizer.count else {
            throw TrainingError("\(label): the LM has a \(l.vocabulary)-token vocabulary, but the run's LM text uses the \(tokenizer.count)-word vocabulary (vocab.txt of the run); "
                                + "the tiny trainer needs an LM trained on that vocabulary (e.g. frozen/lm.safetensors of a run with the same vocab.txt)")
        }
        l.hidden = try d.fromShape("hidden", embed[1], jsonKey: "hidden_size", source: "embed_tokens.weight")
        l.maxPositions = try d.fromShape("positions", positions[0] - 2, jsonKey: "max_position_embeddings", source: "embed_positions.weight − 2")
        let layers = CheckpointMapping.layerCount(ck.names, prefix: part.key(stack + "layers.", in: ck.names))
        guard layers > 0 else { throw TrainingError("\(label): no decoder layers.N tensors") }
        l.layers = try d.fromShape("layers", layers, jsonKey: "num_hidden_layers", source: "layers.N")
        l.intermediate = try d.fromShape("intermediate", shape("layers.0.fc1.weight")[0], jsonKey: "ffn_dim", source: "fc1.weight")
        l.heads = d.fromConfig("heads", jsonKey: "num_attention_heads", recipe: l.heads)
        guard l.heads > 0, l.hidden % l.heads == 0 else {
            throw TrainingError("\(label): hidden \(l.hidden) is not a multiple of \(l.heads) heads; give the checkpoint a config.json with num_attention_heads")
        }
        l.kvHeads = l.heads
        l.headDim = l.hidden / l.heads
        let need = config.qformer.numQueryTokens + lmTextLength
        guard l.maxPositions >= need else {
            throw TrainingError("\(label): the LM has \(l.maxPositions) positions; stage 2 needs \(need) (\(config.qformer.numQueryTokens) queries + \(lmTextLength) text)")
        }
        config.llm = l
        return d.summary()
    }
}

extension TinyPipeline {
    /// Loads a frozen model into `store`: the run's own `frozen/<file>`, or the checkpoint given for it.
    func loadFrozen(_ part: FrozenPart, into store: ParameterStore, for g: Graph) throws {
        guard let path = part.checkpointPath(recipe.checkpoints) else {
            try loadFrozen([part.file], into: store)
            return
        }
        let report = try part.load(CheckpointMapping.open(path, option: part.option), into: store, for: g)
        _ = try dir("frozen")  // the feature cache lives there even when no frozen model was pretrained
        if settings.verbose { FileHandle.standardError.write((report.summary("\(part.option) \(path)") + "\n").data(using: .utf8)!) }
    }

    /// Identifies the frozen image encoder's weights (the feature cache's key): the bytes of the run's
    /// `frozen/vision.safetensors` or of the checkpoint's files.
    func frozenVisionHash() throws -> UInt64 {
        let paths: [String]
        if let v = recipe.checkpoints.vision {
            paths = try CheckpointMapping.open(v, option: FrozenPart.vision.option).shards.map(\.path)
        } else {
            paths = [settings.outDir.appendingPathComponent("frozen/vision.safetensors").path]
            guard FileManager.default.fileExists(atPath: paths[0]) else {
                throw TrainingError("\(paths[0]) is missing: run the pretraining first (blip2-train pretrain) or pass --vision-checkpoint")
            }
        }
        guard paths.count > 1 else { return GraphIO.stableHash(Array(try Data(contentsOf: URL(fileURLWithPath: paths[0])))) }
        var bytes: [UInt8] = []
        for p in paths { withUnsafeBytes(of: GraphIO.stableHash(Array(try Data(contentsOf: URL(fileURLWithPath: p))))) { bytes += $0 } }
        return GraphIO.stableHash(bytes)
    }
}
