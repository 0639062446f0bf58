import Testing
import Foundation
import GraphIR
import GraphIO
@testable import TrainingKit

/// End-to-end smoke runs of the trainers on a micro config (debug builds run the kernels slowly, so the model is
/// a few thousand parameters and the data a few dozen images; the full tiny config is measured in Docs/Training.md).
@Suite(.serialized) struct TrainerPipelineTests {
    static func microPipeline(_ out: URL, steps: Int = 30) throws -> TinyPipeline {
        let (train, heldOut) = try DataSource.builtin(train: 48, heldOut: 16, imageSize: 16, seed: 3).load(imageSize: 16)
        var recipe = TinyRecipe(tokenizer: WordTokenizer(corpus: train.captions), imageSize: 16)
        recipe.config.vision.hidden = 16
        recipe.config.vision.intermediate = 32
        recipe.config.vision.layers = 1
        recipe.config.vision.heads = 2
        recipe.config.qformer.hidden = 16
        recipe.config.qformer.intermediate = 32
        recipe.config.qformer.layers = 2
        recipe.config.qformer.heads = 2
        recipe.config.qformer.numQueryTokens = 4
        recipe.clipSizes.wordWeight = 3
        recipe.config.qformer.embedDim = 8
        recipe.config.llm.hidden = 16
        recipe.config.llm.heads = 2
        recipe.config.llm.headDim = 8
        recipe.config.llm.kvHeads = 2
        recipe.config.llm.intermediate = 32
        recipe.config.llm.layers = 1
        recipe.qformerTextLength = 14
        recipe.lmTextLength = 14
        recipe.clipBatch = 8
        recipe.lmBatch = 8
        recipe.stage1Batch = 8
        recipe.stage2Batch = 8
        recipe.evalBatch = 8
        var settings = RunSettings(outDir: out)
        settings.verbose = false
        settings.checkpointEvery = 10
        settings.compiler = Compiler(passes: .all, threads: 1, seed: 0)
        return TinyPipeline(recipe: recipe, train: train, heldOut: heldOut, settings: settings)
    }

    static func tempDir() -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-pipeline-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func losses(_ dir: URL, _ key: String = "loss") throws -> [Double] {
        try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").compactMap {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?[key] as? Double
        }
    }

    func mean(_ xs: ArraySlice<Double>) -> Double { xs.reduce(0, +) / Double(xs.count) }

    @Test func bothTrainersLowerTheLossAndCaption() throws {
        InterruptFlag.reset()
        let out = Self.tempDir()
        let p = try Self.microPipeline(out)
        _ = try p.pretrainVision(Budget(steps: 30))
        _ = try p.pretrainLanguageModel(Budget(steps: 30))
        let features = try p.imageFeatures()
        let s1 = try p.stage1(Budget(steps: 30), features: features)
        #expect(s1.steps == 30)
        let l1 = try losses(out.appendingPathComponent("stage1"))
        #expect(mean(l1.suffix(5)) < mean(l1.prefix(5)), "stage-1 loss \(l1)")
        let s2 = try p.stage2(Budget(steps: 30), features: features)
        #expect(s2.steps == 30)
        let l2 = try losses(out.appendingPathComponent("stage2"))
        #expect(mean(l2.suffix(5)) < mean(l2.prefix(5)), "stage-2 loss \(l2)")
        for (name, key) in [("pretrain-vit", "loss"), ("pretrain-vit", "loss_words"), ("pretrain-lm", "loss")] {
            let l = try losses(out.appendingPathComponent(name), key)
            #expect(l.count == 30 && mean(l.suffix(5)) < mean(l.prefix(5)), "\(name) \(key) \(l)")
        }
        let m = try p.evaluateStage1(features: features, rerank: 2)
        #expect(m["t2i_r1"] != nil && m["itm_acc"] != nil && m["t2i_r1_itm"] != nil)
        let greedy = try p.generateCaptions(limit: 8)
        let beam = try p.generateCaptions(limit: 4, beams: 2)
        #expect(greedy.count == 8 && beam.count == 4)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("stage1/curves.svg").path))
    }

    @Test func resumedStage1EqualsUninterruptedBitForBit() throws {
        InterruptFlag.reset()
        let a = Self.tempDir()
        let pa = try Self.microPipeline(a)
        _ = try pa.pretrainVision(Budget(steps: 2))
        let features = try pa.imageFeatures()
        _ = try pa.stage1(Budget(steps: 20), features: features)
        let full = try Checkpoint.load(from: a.appendingPathComponent("stage1"))

        // Same run, stopped by Ctrl-C after step 10 (a checkpoint is written then) and resumed.
        let b = Self.tempDir()
        try FileManager.default.createDirectory(at: b.appendingPathComponent("frozen"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: a.appendingPathComponent("frozen/vision.safetensors"),
                                         to: b.appendingPathComponent("frozen/vision.safetensors"))
        let pb = try Self.microPipeline(b)
        let stopAt = StopAfter(10)
        _ = try pb.stage1(Budget(steps: 20), features: features, onStep: stopAt.check)
        InterruptFlag.reset()
        #expect(try Checkpoint.load(from: b.appendingPathComponent("stage1")).step == 10)
        var settings = pb.settings
        settings.resume = true
        let resumed = TinyPipeline(recipe: pb.recipe, train: pb.train, heldOut: pb.heldOut, settings: settings)
        _ = try resumed.stage1(Budget(steps: 20), features: features)
        let again = try Checkpoint.load(from: b.appendingPathComponent("stage1"))
        #expect(again.step == 20)
        #expect(again.state.keys.sorted() == full.state.keys.sorted())
        for (k, v) in full.state { #expect(again.state[k] == v, "\(k) differs after resume") }
    }
}

extension TrainerPipelineTests {
    /// Frozen weights and cached features of one patch size, reused by a run with another: a clear error naming
    /// the option, not a shape failure deep inside stage 1.
    @Test func anotherPatchSizeIsAClearError() throws {
        InterruptFlag.reset()
        let out = Self.tempDir()
        let p = try Self.microPipeline(out)
        _ = try p.pretrainVision(Budget(steps: 2))
        _ = try p.imageFeatures()
        var recipe = p.recipe
        recipe.config.vision.patchSize = 8
        let other = TinyPipeline(recipe: recipe, train: p.train, heldOut: p.heldOut, settings: p.settings)
        #expect { _ = try other.imageFeatures() } throws: { error in
            "\(error)".contains("--patch-size") && "\(error)".contains("patch_embedding.weight")
        }
    }
}

/// Raises the interrupt flag once `n` steps have run (as a Ctrl-C would).
final class StopAfter {
    let n: Int
    init(_ n: Int) { self.n = n }
    func check(_ step: Int) { if step == n { InterruptFlag.raise() } }
}
