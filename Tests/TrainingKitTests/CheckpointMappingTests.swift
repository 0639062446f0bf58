import Testing
import Foundation
import GraphIR
import GraphIO
import GraphRuntime
import BLIP2
@testable import TrainingKit

/// Small generated checkpoints with real names (BERT, OPT, BLIP-2 ViT), written by the tests.
enum MicroCheckpoints {
    /// Sizes of the micro BERT: deliberately unlike the micro recipe's Q-Former (16 wide, 2 layers) so the
    /// Q-Former sizes can only come from the checkpoint.
    static let bertHidden = 24, bertLayers = 3, bertHeads = 3, bertIntermediate = 40, bertPositions = 20

    /// Distinct values per tensor, so a tensor landing in the wrong place shows.
    static func values(_ count: Int, salt: Int) -> [Float] {
        (0..<count).map { Float(sin(Double($0 * 7 + salt * 131))) * 0.05 }
    }

    /// The micro BERT's vocabulary: specials deliberately not at the word tokenizer's ids.
    static func bertVocab(_ captions: [String]) -> [String] {
        let words = WordTokenizer(corpus: captions).words.dropFirst(WordTokenizer.specials.count)
        return ["[PAD]"] + words + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "##s"]
    }

    /// A BERT-named checkpoint folder (model.safetensors, config.json, vocab.txt). `prefix` = "bert." or "".
    /// `override` replaces a tensor's shape (for mismatch tests); `drop` leaves tensors out.
    @discardableResult
    static func writeBERT(_ dir: URL, captions: [String], prefix: String = "", override: [String: [Int]] = [:],
                          drop: Set<String> = []) throws -> [String: Tensor] {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let vocab = bertVocab(captions)
        let h = bertHidden, f = bertIntermediate
        var shapes: [String: [Int]] = [
            "embeddings.word_embeddings.weight": [vocab.count, h],
            "embeddings.position_embeddings.weight": [bertPositions, h],
            "embeddings.token_type_embeddings.weight": [2, h],
            "embeddings.LayerNorm.weight": [h], "embeddings.LayerNorm.bias": [h],
            "embeddings.position_ids": [1, bertPositions],
            "pooler.dense.weight": [h, h], "pooler.dense.bias": [h],
        ]
        for i in 0..<bertLayers {
            let l = "encoder.layer.\(i)."
            for p in ["query", "key", "value"] {
                shapes[l + "attention.self.\(p).weight"] = [h, h]
                shapes[l + "attention.self.\(p).bias"] = [h]
            }
            shapes[l + "attention.output.dense.weight"] = [h, h]
            shapes[l + "attention.output.dense.bias"] = [h]
            shapes[l + "attention.output.LayerNorm.weight"] = [h]
            shapes[l + "attention.output.LayerNorm.bias"] = [h]
            shapes[l + "intermediate.dense.weight"] = [f, h]
            shapes[l + "intermediate.dense.bias"] = [f]
            shapes[l + "output.dense.weight"] = [h, f]
            shapes[l + "output.dense.bias"] = [h]
            shapes[l + "output.LayerNorm.weight"] = [h]
            shapes[l + "output.LayerNorm.bias"] = [h]
        }
        var tensors: [String: Tensor] = [:]
        for (k, (name, shape)) in shapes.sorted(by: { $0.key < $1.key }).enumerated() where !drop.contains(name) {
            let s = override[name] ?? shape
            tensors[prefix + name] = Tensor(floats: values(s.reduce(1, *), salt: k), shape: s)
        }
        try SafetensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors").path)
        let config = """
            {"architectures": ["BertModel"], "hidden_act": "gelu", "hidden_size": \(h), "intermediate_size": \(f),
             "layer_norm_eps": 1e-12, "max_position_embeddings": \(bertPositions), "model_type": "bert",
             "num_attention_heads": \(bertHeads), "num_hidden_layers": \(bertLayers), "vocab_size": \(vocab.count)}
            """
        try config.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try (vocab.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        return tensors
    }

    /// The frozen parameters of `config`'s stage-`stage` graph under `prefix`, as a checkpoint (random values),
    /// written with `strip` removed from every name.
    @discardableResult
    static func writeFrozen(_ path: URL, config: BLIP2Config, stage: BLIP2Stage, prefix: String, strip: String = "",
                            extra: [String: Tensor] = [:], drop: Set<String> = [], heads: Int? = nil) throws -> [String: Tensor] {
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        let g = try BLIP2Model.build(config: config, stage: stage, shapes: BLIP2Shapes(batch: 2, textLength: 4))
        var out = extra
        for (k, v) in g.initialParameters(seed: 11, roles: [.frozen]) where k.hasPrefix(prefix) && !drop.contains(k) {
            out[String(k.dropFirst(strip.count))] = v
        }
        try SafetensorsWriter.write(out, to: path.path)
        if let heads {
            try "{\"num_attention_heads\": \(heads)}".write(to: path.deletingLastPathComponent().appendingPathComponent("config.json"),
                                                            atomically: true, encoding: .utf8)
        }
        return out
    }
}

@Suite(.serialized) struct CheckpointMappingTests {
    typealias Micro = MicroCheckpoints

    static func recipe() throws -> (TinyPipeline, URL) {
        let out = TrainerPipelineTests.tempDir()
        return (try TrainerPipelineTests.microPipeline(out), out)
    }

    @Test func bertNamesMapOntoQFormerNames() {
        #expect(BertQFormerMapping.targets("encoder.layer.3.attention.self.query.weight") == ["qformer.encoder.layer.3.attention.attention.query.weight"])
        #expect(BertQFormerMapping.targets("bert.encoder.layer.0.attention.self.value.bias") == ["qformer.encoder.layer.0.attention.attention.value.bias"])
        #expect(BertQFormerMapping.targets("encoder.layer.1.attention.output.dense.weight") == ["qformer.encoder.layer.1.attention.output.dense.weight"])
        #expect(BertQFormerMapping.targets("encoder.layer.1.attention.output.LayerNorm.bias") == ["qformer.encoder.layer.1.attention.output.LayerNorm.bias"])
        #expect(BertQFormerMapping.targets("encoder.layer.2.intermediate.dense.weight")
                == ["qformer.encoder.layer.2.intermediate.dense.weight", "qformer.encoder.layer.2.intermediate_query.dense.weight"])
        #expect(BertQFormerMapping.targets("bert.encoder.layer.2.output.LayerNorm.weight")
                == ["qformer.encoder.layer.2.output.LayerNorm.weight", "qformer.encoder.layer.2.output_query.LayerNorm.weight"])
        #expect(BertQFormerMapping.targets("embeddings.LayerNorm.weight") == ["qformer.layernorm.weight"])
        #expect(BertQFormerMapping.targets("bert.embeddings.word_embeddings.weight") == ["embeddings.word_embeddings.weight"])
        #expect(BertQFormerMapping.targets("embeddings.token_type_embeddings.weight").isEmpty)
        #expect(BertQFormerMapping.targets("pooler.dense.weight").isEmpty)
        #expect(BertQFormerMapping.targets("cls.predictions.transform.dense.weight") == ["cls.predictions.transform.dense.weight"])
        #expect(foldLayerIndices(["a.layer.0.x", "a.layer.2.x", "b"]) == ["a.layer.{0,2}.x", "b"])
    }

    /// Every BERT tensor lands on its Q-Former parameter (the text FFN also on the query FFN), `[DEC]` is appended,
    /// cross-attention is left to initialise, and the sizes and the WordPiece text come from the checkpoint.
    @Test(arguments: ["", "bert."]) func bertCheckpointInitialisesTheQFormer(prefix: String) throws {
        let (p, out) = try Self.recipe()
        let bert = out.appendingPathComponent("bert")
        let written = try Micro.writeBERT(bert, captions: p.train.captions, prefix: prefix)
        var r = p.recipe
        let lines = try r.useCheckpoints(ModelCheckpoints(qformerInit: bert.path))
        #expect(lines.count == 1 && lines[0].contains("heads 3 (config.json)"), "\(lines)")
        let q = r.config.qformer, vocab = Micro.bertVocab(p.train.captions)
        #expect(q.hidden == Micro.bertHidden && q.layers == Micro.bertLayers && q.heads == Micro.bertHeads)
        #expect(q.intermediate == Micro.bertIntermediate && q.maxPositions == Micro.bertPositions)
        #expect(q.vocabulary == vocab.count + 1 && q.decTokenId == vocab.count)
        #expect(q.clsTokenId == vocab.firstIndex(of: "[CLS]") && q.sepTokenId == vocab.firstIndex(of: "[SEP]") && q.padTokenId == 0)
        // The Q-Former reads WordPiece ids; the LM keeps the word vocabulary.
        let caption = p.train.captions[0]
        let text = r.qformerText([caption])
        let pieces = try BertTokenizer(vocab: vocab).tokenIDs(caption)
        #expect(Array(text.ids.ints.prefix(pieces.count + 2)) == [q.clsTokenId] + pieces + [q.sepTokenId])
        #expect(r.lmText([caption]).ids == p.recipe.lmText([caption]).ids)
        #expect(r.clipText([caption]).ids == p.recipe.qformerText([caption]).ids)

        let g = try BLIP2Model.build(config: r.config, stage: .one, shapes: BLIP2Shapes(batch: 2, textLength: r.qformerTextLength))
        let store = ParameterStore()
        let report = try BertQFormerMapping.load(CheckpointMapping.open(bert.path, option: "--qformer-init"), into: store, for: g, seed: 0)
        for (key, t) in written {
            for target in BertQFormerMapping.targets(key) where target != "embeddings.word_embeddings.weight" {
                #expect(store.floats(target) == t.floats, "\(key) → \(target)")
            }
        }
        let table = try #require(store.floats("embeddings.word_embeddings.weight"))
        let h = Micro.bertHidden, words = try #require(written[prefix + "embeddings.word_embeddings.weight"]).floats
        #expect(table.count == (vocab.count + 1) * h)
        #expect(Array(table.prefix(words.count)) == words)
        let dec = table.suffix(h)
        let std = (dec.map { Double($0 * $0) }.reduce(0, +) / Double(h)).squareRoot()
        #expect(std > 0.005 && std < 0.05, "[DEC] row drawn like BERT's rows (std 0.02), got \(std)")
        #expect(report.extendedRows == ["embeddings.word_embeddings.weight"])
        #expect(Set(report.unexpected) == Set(["embeddings.token_type_embeddings.weight", "embeddings.position_ids",
                                               "pooler.dense.weight", "pooler.dense.bias"].map { prefix + $0 }))
        #expect(report.missing.contains("qformer.encoder.layer.0.crossattention.attention.key.weight"))
        #expect(report.missing.contains("qformer.encoder.layer.2.crossattention.output.LayerNorm.bias"))
        #expect(!report.missing.contains { $0.hasPrefix("qformer.encoder.layer.1.crossattention") })
        #expect(report.missing.contains("query_tokens"))
        #expect(!report.missing.contains { BertQFormerMapping.isRequired($0) })
        // 3 layers × (10 attention + 6 text FFN + 6 query FFN) + word, position embeddings + embedding LN.
        #expect(report.loaded.count == 3 * 22 + 4)
    }

    @Test func mismatchedBERTShapeIsAnErrorNamingKeyAndShapes() throws {
        let (p, out) = try Self.recipe()
        let bert = out.appendingPathComponent("bert")
        let key = "encoder.layer.1.output.dense.weight"
        try Micro.writeBERT(bert, captions: p.train.captions, override: [key: [Micro.bertHidden, Micro.bertIntermediate - 1]])
        var r = p.recipe
        _ = try r.useCheckpoints(ModelCheckpoints(qformerInit: bert.path))
        let g = try BLIP2Model.build(config: r.config, stage: .one, shapes: BLIP2Shapes(batch: 2, textLength: r.qformerTextLength))
        let error = #expect(throws: TrainingError.self) {
            _ = try BertQFormerMapping.load(CheckpointMapping.open(bert.path, option: "--qformer-init"), into: ParameterStore(), for: g, seed: 0)
        }
        let text = error?.description ?? ""
        #expect(text.contains("'\(key)' → 'qformer.encoder.layer.1.output.dense.weight': checkpoint shape [24, 39], model expects [24, 40]"), "\(text)")
        #expect(text.contains("output_query.dense.weight"), "both targets are named: \(text)")
    }

    @Test func incompleteBERTIsAnErrorNamingTheMissingTensors() throws {
        let (p, out) = try Self.recipe()
        let bert = out.appendingPathComponent("bert")
        try Micro.writeBERT(bert, captions: p.train.captions, drop: ["encoder.layer.2.attention.self.key.bias"])
        var r = p.recipe
        _ = try r.useCheckpoints(ModelCheckpoints(qformerInit: bert.path))
        let g = try BLIP2Model.build(config: r.config, stage: .one, shapes: BLIP2Shapes(batch: 2, textLength: r.qformerTextLength))
        let error = #expect(throws: TrainingError.self) {
            _ = try BertQFormerMapping.load(CheckpointMapping.open(bert.path, option: "--qformer-init"), into: ParameterStore(), for: g, seed: 0)
        }
        #expect(error?.description.contains("qformer.encoder.layer.2.attention.attention.key.bias") == true, "\(error?.description ?? "")")
    }

    /// A bare OPT checkpoint (`model.decoder.*`) loads as `language_model.model.decoder.*`; sizes come from its
    /// shapes and config.json; a missing tensor, an unknown one and a wrong shape are reported by name.
    @Test func bareOPTCheckpointLoadsIntoTheFrozenLM() throws {
        let (p, out) = try Self.recipe()
        var source = p.recipe.config
        source.llm.hidden = 24
        source.llm.heads = 3
        source.llm.headDim = 8
        source.llm.kvHeads = 3
        source.llm.intermediate = 36
        source.llm.layers = 2
        source.llm.maxPositions = 30
        let file = out.appendingPathComponent("opt/model.safetensors")
        let written = try Micro.writeFrozen(file, config: source, stage: .two, prefix: "language_model.", strip: "language_model.",
                                            extra: ["lm_head.weight": Tensor(floats: [0, 0], shape: [2])], heads: 3)
        #expect(written.keys.contains("model.decoder.embed_tokens.weight"))
        var r = p.recipe
        let lines = try r.useCheckpoints(ModelCheckpoints(languageModel: file.path))
        #expect(lines[0].contains("heads 3 (num_attention_heads in config.json)"), "\(lines)")
        #expect(r.config.llm == source.llm)
        let g = try BLIP2Model.build(config: r.config, stage: .two, shapes: BLIP2Shapes(batch: 2, textLength: 4))
        let store = ParameterStore()
        let report = try FrozenPart.languageModel.load(CheckpointMapping.open(file.path, option: "--lm-checkpoint"), into: store, for: g)
        #expect(report.unexpected == ["lm_head.weight"])
        #expect(report.missing.isEmpty)
        for (k, t) in written where k != "lm_head.weight" { #expect(store.floats("language_model." + k) == t.floats, "\(k)") }

        // Missing: a frozen weight cannot be left random.
        let holey = out.appendingPathComponent("opt-holey/model.safetensors")
        try Micro.writeFrozen(holey, config: source, stage: .two, prefix: "language_model.",
                              drop: ["language_model.model.decoder.layers.1.fc2.bias"], heads: 3)
        let missing = #expect(throws: TrainingError.self) {
            _ = try FrozenPart.languageModel.load(CheckpointMapping.open(holey.path, option: "--lm-checkpoint"), into: ParameterStore(), for: g)
        }
        #expect(missing?.description.contains("language_model.model.decoder.layers.1.fc2.bias") == true, "\(missing?.description ?? "")")

        // Mismatch against a graph of other sizes.
        var other = r.config
        other.llm.intermediate = 37
        let g2 = try BLIP2Model.build(config: other, stage: .two, shapes: BLIP2Shapes(batch: 2, textLength: 4))
        let mismatch = #expect(throws: TrainingError.self) {
            _ = try FrozenPart.languageModel.load(CheckpointMapping.open(file.path, option: "--lm-checkpoint"), into: ParameterStore(), for: g2)
        }
        #expect(mismatch?.description.contains("'model.decoder.layers.0.fc1.weight' → 'language_model.model.decoder.layers.0.fc1.weight': checkpoint shape [36, 24], model expects [37, 24]") == true,
                "\(mismatch?.description ?? "")")
    }

    @Test func lmCheckpointOfAnotherVocabularyAndConfigDisagreementsAreErrors() throws {
        let (p, out) = try Self.recipe()
        var source = p.recipe.config
        source.llm.vocabulary += 3
        let file = out.appendingPathComponent("opt/model.safetensors")
        try Micro.writeFrozen(file, config: source, stage: .two, prefix: "language_model.")
        var r = p.recipe
        let vocabError = #expect(throws: TrainingError.self) { _ = try r.useCheckpoints(ModelCheckpoints(languageModel: file.path)) }
        #expect(vocabError?.description.contains("\(source.llm.vocabulary)-token vocabulary") == true, "\(vocabError?.description ?? "")")

        let vit = out.appendingPathComponent("vit/model.safetensors")
        try Micro.writeFrozen(vit, config: p.recipe.config, stage: .one, prefix: "vision_model.")
        try "{\"vision_config\": {\"hidden_size\": 99, \"num_attention_heads\": 2}}".write(
            to: vit.deletingLastPathComponent().appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        var r2 = p.recipe
        let configError = #expect(throws: TrainingError.self) { _ = try r2.useCheckpoints(ModelCheckpoints(vision: vit.path)) }
        #expect(configError?.description.contains("hidden_size = 99, but patch_embedding.weight gives 16") == true, "\(configError?.description ?? "")")
    }

    /// A few stage-1 steps with a bare-named ViT checkpoint and a Q-Former initialised from a micro BERT, through
    /// the TinyPipeline API; then held-out evaluation (which reads WordPiece text).
    @Test func stage1RunsFromVisionCheckpointAndBERTInit() throws {
        InterruptFlag.reset()
        let (p, out) = try Self.recipe()
        let bert = out.appendingPathComponent("bert")
        try Micro.writeBERT(bert, captions: p.train.captions)
        var source = p.recipe.config
        source.vision.hidden = 20
        source.vision.heads = 5
        source.vision.intermediate = 28
        let vit = out.appendingPathComponent("vit/model.safetensors")
        try Micro.writeFrozen(vit, config: source, stage: .one, prefix: "vision_model.", strip: "vision_model.", heads: 5)
        var r = p.recipe
        _ = try r.useCheckpoints(ModelCheckpoints(vision: vit.path, qformerInit: bert.path))
        #expect(r.config.vision == source.vision)
        let run = TinyPipeline(recipe: r, train: p.train, heldOut: p.heldOut, settings: p.settings)
        let features = try run.imageFeatures()
        #expect(features.shape == [source.vision.tokens, 20])
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("frozen/vision.safetensors").path))
        let s1 = try run.stage1(Budget(steps: 4), features: features)
        #expect(s1.steps == 4)
        #expect(s1.lastLosses.values.allSatisfy { $0.isFinite }, "\(s1.lastLosses)")
        let ck = try Checkpoint.load(from: out.appendingPathComponent("stage1"))
        #expect(ck.state["embeddings.word_embeddings.weight"]?.shape == [Micro.bertVocab(p.train.captions).count + 1, Micro.bertHidden])
        let m = try run.evaluateStage1(features: features, limit: 8)
        #expect(m["t2i_r1"] != nil && m["itm_acc"] != nil)
    }

    /// The real all-MiniLM-L6-v2 (fetched by Tools/fetch_assets.sh): every tensor lands or is a known unused one.
    @Test(.enabled(if: miniLMPath != nil, "MiniLM checkpoint absent: run Tools/fetch_assets.sh (or set GRAPHC_ASSETS)"))
    func realMiniLMMapsOntoTheQFormer() throws {
        let dir = try #require(miniLMPath)
        let (p, _) = try Self.recipe()
        var r = p.recipe
        _ = try r.useCheckpoints(ModelCheckpoints(qformerInit: dir))
        let q = r.config.qformer
        #expect(q.hidden == 384 && q.layers == 6 && q.heads == 12 && q.intermediate == 1536 && q.maxPositions == 512)
        #expect(q.vocabulary == 30523 && q.decTokenId == 30522 && q.clsTokenId == 101 && q.sepTokenId == 102)
        // Reference ids of assets.md for "a photo of a cat".
        #expect(Array(r.qformerText(["a photo of a cat"]).ids.ints.prefix(7)) == [101, 1037, 6302, 1997, 1037, 4937, 102])
        let g = try BLIP2Model.build(config: r.config, stage: .one, shapes: BLIP2Shapes(batch: 2, textLength: r.qformerTextLength))
        let ck = try CheckpointMapping.open(dir, option: "--qformer-init")
        let store = ParameterStore()
        let report = try BertQFormerMapping.load(ck, into: store, for: g, seed: 0)
        #expect(Set(report.unexpected) == ["embeddings.token_type_embeddings.weight", "embeddings.position_ids",
                                          "pooler.dense.weight", "pooler.dense.bias"])
        #expect(report.loaded.count == 6 * 22 + 4)
        var checked = 0
        for key in ck.names {
            for target in BertQFormerMapping.targets(key) {
                let want = try ck.floats(key), got = try #require(store.floats(target))
                #expect(Array(got.prefix(want.count)) == want, "\(key) → \(target)")
                checked += 1
            }
        }
        #expect(checked == report.loaded.count)
        print("MiniLM: \(ck.names.count) tensors, \(report.loaded.count) Q-Former parameters loaded, \(report.missing.count) newly initialized")
    }
}

let miniLMPath: String? = {
    let root = ProcessInfo.processInfo.environment["GRAPHC_ASSETS"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/.assets"
    let dir = root + "/minilm"
    return FileManager.default.fileExists(atPath: dir + "/model.safetensors") ? dir : nil
}()
