import BLIP2HF
import Foundation
import GraphIO
import Testing

/// Hub-shaped configs with the sizes of the released checkpoints (spec §7.1), trimmed to the fields that
/// matter; everything else takes the transformers default, as it would on load.
enum HubConfigs {
    static let opt27b = """
    {"architectures": ["Blip2ForConditionalGeneration"], "model_type": "blip-2", "num_query_tokens": 32,
     "image_token_index": 50265, "initializer_factor": 1.0,
     "qformer_config": {"model_type": "blip_2_qformer", "encoder_hidden_size": 1408},
     "text_config": {"model_type": "opt", "hidden_size": 2560, "ffn_dim": 10240, "num_hidden_layers": 32,
                     "num_attention_heads": 32, "vocab_size": 50304, "word_embed_proj_dim": 2560, "eos_token_id": 50118,
                     "do_layer_norm_before": true, "activation_function": "relu", "max_position_embeddings": 2048},
     "vision_config": {"model_type": "blip_2_vision_model"}}
    """
    static let flanT5XL = """
    {"architectures": ["Blip2ForConditionalGeneration"], "model_type": "blip-2", "num_query_tokens": 32,
     "image_token_index": 32100,
     "text_config": {"model_type": "t5", "d_model": 2048, "d_ff": 5120, "d_kv": 64, "num_heads": 32, "num_layers": 24,
                     "num_decoder_layers": 24, "vocab_size": 32128, "feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu",
                     "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 1, "pad_token_id": 0,
                     "decoder_start_token_id": 0, "layer_norm_epsilon": 1e-06},
     "vision_config": {}, "qformer_config": {}}
    """
    static let itmVitG = """
    {"architectures": ["Blip2ForImageTextRetrieval"], "model_type": "blip-2", "num_query_tokens": 32,
     "image_text_hidden_size": 256,
     "qformer_config": {"vocab_size": 30523, "use_qformer_text_input": true}, "vision_config": {}}
    """

    static func parse(_ text: String) throws -> HFBlip2Config {
        try HFBlip2Config.parse(JSONParser.parse(text, context: "config.json"))
    }
}

@Suite("Hugging Face BLIP-2 config.json and checkpoint key layout")
struct HFCheckpointLayoutTests {
    @Test("every fixture config parses to the sizes the generator used")
    func fixtureConfigs() throws {
        let a = try HFBlip2Config.load(path: FixtureFolders.path("opt-a"))
        #expect(a.architecture == "Blip2ForConditionalGeneration")
        #expect(a.vision.hiddenSize == 32 && a.vision.imageSize == 32 && a.vision.patchSize == 8 && a.vision.numPositions == 17)
        #expect(a.qformer.hiddenSize == 24 && a.qformer.crossAttentionFrequency == 2 && a.qformer.encoderHiddenSize == 32)
        #expect(a.numQueryTokens == 6 && a.imageTokenIndex == 95)
        guard case .opt(let opt) = a.text else { Issue.record("opt-a text config is not OPT"); return }
        #expect(opt.hiddenSize == 40 && opt.numAttentionHeads == 5 && opt.ffnDim == 72 && opt.vocabSize == 96)

        let b = try HFBlip2Config.load(path: FixtureFolders.path("opt-b"))
        // opt-b is saved in shards with an index, as the released checkpoints are.
        #expect(FileManager.default.fileExists(atPath: FixtureFolders.path("opt-b") + "/model.safetensors.index.json"))
        #expect(b.vision.layerNormEps == 1e-5 && b.qformer.crossAttentionFrequency == 1 && b.numQueryTokens == 3)

        let t = try HFBlip2Config.load(path: FixtureFolders.path("t5"))
        guard case .t5(let t5) = t.text else { Issue.record("t5 text config is not T5"); return }
        #expect(t5.denseActFn == "gelu" && t5.isGatedAct && !t5.scaleDecoderOutputs && !t5.tieWordEmbeddings)
        #expect(t5.innerDim == 20 && t5.dModel == 24 && t5.numLayers == 2 && t5.numDecoderLayers == 3)
        #expect(t.qformer.crossAttentionFrequency == 3 && t.qformer.hasCrossAttention(layer: 3) && !t.qformer.hasCrossAttention(layer: 2))

        let r = try HFBlip2Config.load(path: FixtureFolders.path("retrieval"))
        #expect(r.architecture == "Blip2ForImageTextRetrieval" && r.qformer.useQFormerTextInput && r.imageTextHiddenSize == 12)
        #expect(r.qformer.vocabSize == 40 && r.qformer.maxPositionEmbeddings == 24)
        let legacy = try HFBlip2Config.load(path: FixtureFolders.path("retrieval-legacy"))
        #expect(legacy.imageTokenIndex == nil && legacy.qformer.crossAttentionFrequency == 1 && legacy.numQueryTokens == 2)
    }

    @Test("the layout matches each fixture checkpoint key for key and shape for shape", arguments: FixtureFolders.all)
    func layoutMatchesFixture(name: String) throws {
        let config = try HFBlip2Config.load(path: FixtureFolders.path(name))
        let manifest = try FixtureFolders.manifest(name)
        guard let architecture = HFArchitecture(rawValue: manifest.architecture) else {
            Issue.record("unknown architecture \(manifest.architecture)"); return
        }
        let layout = HFCheckpointLayout(config: config, architecture: architecture)
        let report = layout.check(found: try FixtureFolders.checkpointShapes(name))
        #expect(report.isClean, "\(report)")
        // The layout's keys are exactly transformers' state_dict keys: saved ones plus the tied ones it left out.
        #expect(Set(layout.parameters.map(\.key)) == Set(manifest.checkpointKeys + manifest.keysNotInCheckpoint))
        #expect(Set(report.tied.map(\.key)) == Set(manifest.keysNotInCheckpoint))
    }

    @Test("Blip2Model checkpoints use the Blip2ForConditionalGeneration names")
    func blip2ModelLayout() throws {
        let config = try HFBlip2Config.load(path: FixtureFolders.path("opt-a"))
        let model = HFCheckpointLayout(config: config, architecture: .model)
        let generation = HFCheckpointLayout(config: config, architecture: .conditionalGeneration)
        #expect(model.parameters == generation.parameters)
        #expect(model.check(found: try FixtureFolders.checkpointShapes("opt-a")).isClean)
    }

    @Test("released checkpoint sizes: parameter and key counts equal transformers' (meta-device count)")
    func hubSizes() throws {
        // Counted with transformers 5.24 on the meta device (Tools/make_blip2_fixtures.py's environment):
        // state_dict key counts 1248 / 1291 / 809; FlanT5's untied lm_head counted once more than a tied one.
        let opt = HFCheckpointLayout(config: try HubConfigs.parse(HubConfigs.opt27b), architecture: .conditionalGeneration)
        #expect(opt.parameterCount == 3_744_761_856)
        #expect(opt.parameters.count == 1248)
        #expect(opt["vision_model.encoder.layers.38.self_attn.qkv.weight"]?.shape == [4224, 1408])
        #expect(opt["qformer.encoder.layer.10.crossattention.attention.key.weight"]?.shape == [768, 1408])
        #expect(opt["qformer.encoder.layer.11.crossattention.attention.key.weight"] == nil)
        #expect(opt["language_model.model.decoder.embed_positions.weight"]?.shape == [2050, 2560])

        let t5 = HFCheckpointLayout(config: try HubConfigs.parse(HubConfigs.flanT5XL), architecture: .conditionalGeneration)
        #expect(t5.parameterCount == 3_942_446_592)
        #expect(t5.parameters.count == 1291)
        #expect(t5["language_model.encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]?.shape == [32, 32])
        #expect(t5["language_model.lm_head.weight"]?.tiedTo == nil)

        let itm = HFCheckpointLayout(config: try HubConfigs.parse(HubConfigs.itmVitG), architecture: .retrieval)
        #expect(itm.parameterCount == 1_172_032_258)
        #expect(itm.parameters.count == 809)
    }

    @Test("missing, unexpected and mis-shaped keys are reported by name")
    func reportNamesKeys() throws {
        let config = try HFBlip2Config.load(path: FixtureFolders.path("opt-a"))
        let layout = HFCheckpointLayout(config: config, architecture: .conditionalGeneration)
        var found = try FixtureFolders.checkpointShapes("opt-a")
        found["qformer.layernorm.weight"] = nil
        found["qformer.encoder.layer.0.intermediate.dense.weight"] = [40, 24]
        found["language_projection.weight"] = [40, 25]
        let report = layout.check(found: found)
        #expect(!report.isClean)
        #expect(report.missing == ["qformer.layernorm.weight"])
        #expect(report.unexpected == ["qformer.encoder.layer.0.intermediate.dense.weight"])
        #expect(report.mismatched == [HFLoadReport.Mismatch(key: "language_projection.weight", checkpoint: [40, 25], model: [40, 24])])
        let text = report.description
        #expect(text.contains("were not initialized from the model checkpoint: [\"qformer.layernorm.weight\"]"))
        #expect(text.contains("size mismatch for language_projection.weight: copying a param with shape [40, 25] from checkpoint, the shape in current model is [40, 24]."))

        // The tied OPT head may be present (same name and shape) or absent; FlanT5's extra decoder bias is ignored.
        found = try FixtureFolders.checkpointShapes("opt-a")
        found["language_model.lm_head.weight"] = [96, 40]
        #expect(layout.check(found: found).isClean && layout.check(found: found).tied.isEmpty)
        let t5 = HFCheckpointLayout(config: try HFBlip2Config.load(path: FixtureFolders.path("t5")), architecture: .conditionalGeneration)
        var t5Found = try FixtureFolders.checkpointShapes("t5")
        t5Found["language_model.decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"] = [8, 4]
        let t5Report = t5.check(found: t5Found)
        #expect(t5Report.isClean && t5Report.ignored.count == 1)
        // FlanT5 (tie_word_embeddings false) must carry its own lm_head.
        t5Found["language_model.lm_head.weight"] = nil
        #expect(t5.check(found: t5Found).missing == ["language_model.lm_head.weight"])
        // A retrieval checkpoint read as a generation model: every LLM key missing, the ITM heads unexpected.
        let wrong = layout.check(found: try FixtureFolders.checkpointShapes("retrieval"))
        #expect(wrong.unexpected.contains("itm_head.weight") && wrong.missing.contains("language_projection.weight"))
    }

    @Test("bad config.json values give errors naming the field")
    func configErrors() throws {
        func message(_ text: String) -> String {
            do {
                _ = try HubConfigs.parse(text)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        #expect(message(#"{"text_config": {"model_type": "llama"}}"#).contains("text_config.model_type is 'llama'"))
        #expect(message(#"{"vision_config": {"hidden_size": "wide"}}"#).contains("vision_config.hidden_size must be an integer, found a string"))
        #expect(message(#"{"vision_config": {"image_size": 30, "patch_size": 14}}"#).contains("image_size 30 is not a multiple of patch_size 14"))
        #expect(message(#"{"qformer_config": {"num_attention_heads": 0}}"#).contains("qformer_config.num_attention_heads must be positive"))
        #expect(message(#"{"text_config": {"model_type": "opt", "hidden_size": 1024, "word_embed_proj_dim": 512}}"#)
            .contains("text_config.word_embed_proj_dim is 512"))
        #expect(message(#"{"model_type": "clip"}"#).contains("model_type is 'clip'"))
        #expect(message("[1, 2]").contains("top level must be an object"))
        #expect(message(#"{"image_token_index": 60000}"#).contains("image_token_index 60000 is outside"))
        #expect(message(#"{"text_config": {"model_type": "t5", "feed_forward_proj": "gated-gelu"}}"#) == "no error")
        let stock = try HubConfigs.parse(#"{"text_config": {"model_type": "t5", "feed_forward_proj": "gated-gelu"}}"#)
        if case .t5(let c) = stock.text { #expect(c.denseActFn == "gelu_new" && c.scaleDecoderOutputs) }
        let v5 = try HubConfigs.parse(#"{"text_config": {"model_type": "t5", "tie_word_embeddings": true, "scale_decoder_outputs": false}}"#)
        if case .t5(let c) = v5.text { #expect(!c.scaleDecoderOutputs && c.tieWordEmbeddings) }
    }
}
