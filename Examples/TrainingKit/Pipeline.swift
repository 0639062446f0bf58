import Foundation
import GraphIR
import GraphNN
import GraphPasses
import GraphRuntime
import GraphIO
import BLIP2

/// How long a phase runs: a step count, a time budget, or both (whichever ends first).
public struct Budget: Equatable {
    public var steps: Int?
    public var minutes: Double?
    public init(steps: Int? = nil, minutes: Double? = nil) {
        self.steps = steps
        self.minutes = minutes
    }
}

/// Common settings of every phase.
public struct RunSettings {
    public var outDir: URL
    public var resume = false
    public var verbose = true
    public var checkpointEvery = 200
    public var evalEvery: Int? = nil
    public var compiler = Compiler()
    /// Optimizer settings shared by every phase. `peakLR`/`warmup` override each phase's default when set;
    /// weight decay (0.05) and clipping (global norm 1.0) are the paper's.
    public var peakLR: Double? = nil
    public var warmup: Int? = nil
    public var weightDecay = 0.05
    public var clipNorm = 1.0
    public init(outDir: URL) { self.outDir = outDir }
}

/// The tiny BLIP-2 pipeline: pretrain the frozen unimodal models, stage 1 on the frozen image encoder's cached
/// features, stage 2 through the frozen LM, evaluation on the held-out split.
public final class TinyPipeline {
    public let recipe: TinyRecipe
    public let train: ExampleSet
    public let heldOut: ExampleSet
    public let settings: RunSettings
    var config: BLIP2Config { recipe.config }

    public init(recipe: TinyRecipe, train: ExampleSet, heldOut: ExampleSet, settings: RunSettings) {
        self.recipe = recipe
        self.train = train
        self.heldOut = heldOut
        self.settings = settings
    }

    func dir(_ name: String) throws -> URL {
        let d = settings.outDir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func loop(_ label: String, _ budget: Budget, peakLR: Double, minLR: Double, warmup: Int, evalEvery: Int? = nil) throws -> LoopOptions {
        LoopOptions(label: label, outDir: try dir(label), steps: budget.steps, minutes: budget.minutes,
                    checkpointEvery: settings.checkpointEvery, evalEvery: evalEvery ?? settings.evalEvery, resume: settings.resume,
                    peakLR: settings.peakLR ?? peakLR, minLR: minLR, warmup: settings.warmup ?? warmup, verbose: settings.verbose)
    }

    static func lensOf(_ mask: Tensor) -> Tensor {
        let (b, t) = (mask.shape[0], mask.shape[1])
        return Tensor(.i32, [b], (0..<b).map { r in (0..<t).reduce(0) { $0 + mask.scalars[r * t + $1] } })
    }

    /// Runs `exe` over `set` in batches of the graph's batch size (the last batch padded by repeating item 0),
    /// calling `inputs` for the indices of each batch and `collect` with the outputs and the number of real items.
    func batched(_ count: Int, batch: Int, _ body: ([Int], Int) throws -> Void) rethrows {
        var start = 0
        while start < count {
            let real = min(batch, count - start)
            let idx = (0..<batch).map { $0 < real ? start + $0 : start }
            try body(idx, real)
            start += batch
        }
    }

    // MARK: pretraining the frozen models

    /// CLIP-style pretraining of the ViT; writes `frozen/vision.safetensors` (`vision_model.*` without the
    /// post-layernorm, which BLIP-2 trains from scratch). Returns the loop summary.
    public func pretrainVision(_ budget: Budget) throws -> LoopSummary {
        let b = recipe.clipBatch, t = recipe.qformerTextLength, sizes = recipe.clipSizes, width = sizes.embedDim
        let g = try PretrainModels.clip(vision: config.vision, vocabulary: recipe.tokenizer.count, textLength: t, batch: b, sizes: sizes)
        let c = settings.compiler
        let store = ParameterStore()
        let evalExe = try c.forward(g, store: store)
        let train = self.train, heldOut = self.heldOut, recipe = self.recipe
        let batches = BatchSchedule(batch: b, count: train.count, seed: recipe.seed)
        // The text inputs of a batch: tower ids and lengths, and the caption-word labels when that objective is on.
        func textInputs(_ captions: [String]) -> [String: Tensor] {
            let text = recipe.clipText(captions)
            var inputs = ["input_ids": text.ids, "lens": TinyPipeline.lensOf(text.mask)]
            if sizes.wordWeight > 0 { inputs["word_labels"] = recipe.labels(ids: text.ids, mask: text.mask) }
            return inputs
        }
        let task = try GraphTrainingTask(
            training: c.trainingGraph(g, weightDecay: settings.weightDecay, clip: settings.clipNorm), store: store, options: c.runtime(checkFinite: ["loss"]),
            lossOutputs: sizes.wordWeight > 0 ? ["loss", "loss_words"] : ["loss"],
            inputs: { step in
                let idx = batches.indices(step: step)
                return (["pixel_values": train.pixelBatch(idx)], textInputs(idx.map { train.captions[$0] }), b)
            },
            evaluate: { [unowned self] in
                var img: [[Float]] = [], txt: [[Float]] = []
                try self.batched(min(heldOut.count, 1000), batch: b) { idx, real in
                    let out = try evalExe.run(floats: ["pixel_values": heldOut.pixelBatch(idx)],
                                              others: textInputs(idx.map { heldOut.captions[$0] }))
                    img += rows(try out.floats("image_embeds"), width: width).prefix(real)
                    txt += rows(try out.floats("text_embeds"), width: width).prefix(real)
                }
                let sim = maxOverQueriesSimilarity(images: img.flatMap { $0 }, texts: txt.flatMap { $0 }, queries: 1, width: width)
                let r = retrievalRecall(sim: sim, captions: Array(heldOut.captions.prefix(sim.count)), ks: [1], strict: true)
                return ["t2i_r1": r.t2i[1]!, "i2t_r1": r.i2t[1]!]
            })
        let summary = try runTrainingLoop(task, loop("pretrain-vit", budget, peakLR: 1e-3, minLR: 1e-5, warmup: 100, evalEvery: 500))
        let weights = store.all().filter { $0.key.hasPrefix("vision_model.") && !$0.key.hasPrefix("vision_model.post_layernorm") }
        try SafetensorsWriter.write(weights, metadata: ["producer": "graphc blip2-train pretrain-vit"],
                                    to: try dir("frozen").appendingPathComponent("vision.safetensors").path)
        return summary
    }

    /// The context-prefix slots of one caption: its content words in order, some dropped, sometimes none.
    func contextPrefix(_ caption: String, step: Int, item: Int) -> [Int] {
        let q = config.qformer.numQueryTokens
        let stop: Set<String> = ["a", "an", "the", "of", "at", "is", "in", "on"]
        func u(_ k: Int) -> Float { counterUniform(seed: recipe.seed, salt: 0x9F1 + k, index: step * 4096 + item) }
        var words = WordTokenizer.split(caption).filter { !stop.contains($0) }
        if u(0) < 0.2 { words = [] }
        words = words.enumerated().filter { counterUniform(seed: recipe.seed, salt: 0xA17 + $0.offset, index: step * 4096 + item) >= 0.1 }.map(\.element)
        let ids = words.prefix(q).map { recipe.tokenizer.ids($0).first ?? recipe.tokenizer.unk }
        return ids + [Int](repeating: recipe.tokenizer.pad, count: q - ids.count)
    }

    /// Decoder LM pretraining on the training captions; writes `frozen/lm.safetensors` (`language_model.*`).
    public func pretrainLanguageModel(_ budget: Budget) throws -> LoopSummary {
        let b = recipe.lmBatch, t = recipe.lmTextLength
        let p = recipe.lmContextPrefix ? config.qformer.numQueryTokens : 0
        let g = try PretrainModels.languageModel(config.llm, textLength: t, batch: b, prefixLength: p)
        let c = settings.compiler
        let store = ParameterStore()
        let train = self.train, recipe = self.recipe
        let batches = BatchSchedule(batch: b, count: train.count, seed: recipe.seed &+ 1)
        let task = try GraphTrainingTask(
            training: c.trainingGraph(g, weightDecay: settings.weightDecay, clip: settings.clipNorm), store: store, options: c.runtime(checkFinite: ["loss"]),
            lossOutputs: ["loss"],
            inputs: { [unowned self] step in
                let idx = batches.indices(step: step)
                let caps = idx.map { train.captions[$0] }
                let text = recipe.lmText(caps)
                var others = ["input_ids": text.ids, "lens": TinyPipeline.lensOf(text.mask), "labels": recipe.labels(ids: text.ids, mask: text.mask)]
                if p > 0 {
                    let prefix = caps.enumerated().flatMap { self.contextPrefix($0.element, step: step, item: $0.offset) }
                    others["prefix_ids"] = Tensor(.i32, [b, p], prefix.map(Double.init))
                }
                return ([:], others, b)
            })
        let summary = try runTrainingLoop(task, loop("pretrain-lm", budget, peakLR: 1e-3, minLR: 1e-5, warmup: 100))
        let weights = store.all().filter { $0.key.hasPrefix("language_model.") }
        try SafetensorsWriter.write(weights, metadata: ["producer": "graphc blip2-train pretrain-lm"],
                                    to: try dir("frozen").appendingPathComponent("lm.safetensors").path)
        return summary
    }
}

func rows(_ xs: [Float], width: Int) -> [[Float]] {
    stride(from: 0, to: xs.count, by: width).map { Array(xs[$0..<min($0 + width, xs.count)]) }
}

