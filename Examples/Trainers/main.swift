import ArgumentParser
import Foundation
import GraphIR
import GraphRuntime
import TrainingKit

extension Compiler.Passes: ExpressibleByArgument {}

struct Common: ParsableArguments {
    @Option(help: "Training data: 'builtin' (procedural shapes, no files) or a folder with COCO-style train/ and val/ splits (captions.json + images/), a captions.json or a .jsonl file.")
    var data = "builtin"
    @Option(help: "Output folder: frozen models, checkpoints, metrics.jsonl and curves.svg of each phase.")
    var out = "runs/tiny"
    @Option(help: "Training examples of the built-in dataset (or a cap on a folder's).")
    var trainSize = 20_000
    @Option(help: "Held-out examples (built-in dataset size, or a cap).")
    var heldOutSize = 1_000
    @Option(help: "Image side in pixels (the tiny ViT cuts it into patches, see --patch-size).")
    var imageSize = 32
    @Option(help: "Patch side of the tiny ViT in pixels (default: a 4×4 grid of patches, image size / 4); must divide the image size.")
    var patchSize: Int?
    @Option(help: "Weight of the ViT pretraining's caption-word objective (predict the caption token at each position from all image tokens) next to the contrastive loss; 0 = contrastive only (the default). 3 teaches the ViT shape kind on fixed-template captions such as the reference shapes set, but costs retrieval on paraphrased ones (Docs/Training.md). 'all' gives stage 2 a quarter of the budget when it is on.")
    var vitWordWeight = PretrainSizes().wordWeight
    @Option(help: "Threads for BLAS and kernels (default: all cores of this machine).")
    var threads = RuntimeThreads.allCores
    @Option(help: "Seed of data order, initialization, dropout and sampling.")
    var seed = 0
    @Option(help: "Pass pipelines: all (the default), no-fuse (all but the fuse pass) or none (graphs as built).")
    var passes = Compiler.Passes.all
    @Flag(help: "Time every kernel of the training steps; each phase prints a table by op and kernel and writes it to profile.txt.")
    var profile = false
    @Flag(help: "Continue each phase from its last checkpoint.")
    var resume = false
    @Option(help: "Steps between checkpoints.")
    var checkpointEvery = 200
    @Flag(help: "Print only the summary.")
    var quiet = false
    @Option(help: "Peak learning rate of every phase run (default per phase: ViT 1e-3, LM 1e-3, stage 1 and 2 1e-3; cosine decay to 1e-5).")
    var lr: Double?
    @Option(help: "Linear warm-up steps of every phase run (default 100).")
    var warmup: Int?
    @Option(help: "AdamW decoupled weight decay (biases, norms and other 1-D parameters excluded).")
    var weightDecay = 0.05
    @Option(help: "Global gradient-norm clipping threshold.")
    var clipNorm = 1.0
    @Option(help: "Stage-1 objectives summed into the loss: a comma-separated subset of itc,itm,itg, each with an optional weight. BLIP-2's paper: itc,itm,itg (all weight 1); the default weighs ITG 0.1 because a Q-Former trained from scratch stalls ITC otherwise (Docs/Training.md).")
    var objectives = "itc,itm,itg=0.1"
    @Option(help: "Stage-1 batch (in-batch ITC negatives and hard-negative pool).")
    var stage1Batch = 64
    @Option(help: "Stage-1 batch items whose ITM triples (positive, negative image, negative text) run each step; BLIP-2's paper runs the whole batch (--itm-pairs 64).")
    var itmPairs = 16
    @Option(help: "Frozen image encoder from a safetensors file or HF model folder (vision_model.* names, prefix optional) instead of frozen/vision.safetensors; sizes come from its tensors and config.json.")
    var visionCheckpoint: String?
    @Option(help: "Frozen LM from a safetensors file or HF model folder (language_model.* or bare OPT model.decoder.* names) instead of frozen/lm.safetensors; its vocabulary must be the run's vocab.txt.")
    var lmCheckpoint: String?
    @Option(help: "Initialise the Q-Former from a BERT safetensors file or folder (e.g. all-MiniLM-L6-v2; needs config.json and vocab.txt): Q-Former sizes from its config, Q-Former text in its WordPiece vocabulary.")
    var qformerInit: String?

    func pipeline() throws -> TinyPipeline {
        let outDir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        let source: DataSource = data == "builtin" ? .builtin(train: trainSize, heldOut: heldOutSize, imageSize: imageSize, seed: UInt64(seed)) : .folder(data)
        let started = Date()
        let (train, heldOut) = try source.load(imageSize: imageSize, limitTrain: trainSize, limitHeldOut: heldOutSize)
        if !quiet { say("data: \(train.count) training and \(heldOut.count) held-out examples from \(data) (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)") }
        // The vocabulary comes from the training captions and is kept with the run, so later phases agree.
        let vocabURL = outDir.appendingPathComponent("vocab.txt")
        let tokenizer: WordTokenizer
        if FileManager.default.fileExists(atPath: vocabURL.path) {
            tokenizer = try WordTokenizer.read(from: vocabURL)
        } else {
            tokenizer = WordTokenizer(corpus: train.captions)
            try tokenizer.write(to: vocabURL)
        }
        var recipe = TinyRecipe(tokenizer: tokenizer, imageSize: imageSize)
        recipe.seed = seed
        if let p = patchSize {
            guard p >= 1, imageSize % p == 0 else { throw ValidationError("--patch-size \(p) must divide --image-size \(imageSize)") }
            recipe.config.vision.patchSize = p
        }
        guard vitWordWeight >= 0 else { throw ValidationError("--vit-word-weight must be 0 or more, got \(vitWordWeight)") }
        recipe.clipSizes.wordWeight = vitWordWeight
        recipe.stage1Objectives = try parseObjectives(objectives)
        guard stage1Batch >= 2 else { throw ValidationError("--stage1-batch must be at least 2 (in-batch negatives), got \(stage1Batch)") }
        recipe.stage1Batch = stage1Batch
        guard itmPairs >= 1 else { throw ValidationError("--itm-pairs must be at least 1, got \(itmPairs)") }
        recipe.stage1ItmPairs = itmPairs
        let derived = try recipe.useCheckpoints(ModelCheckpoints(vision: visionCheckpoint, languageModel: lmCheckpoint, qformerInit: qformerInit))
        if !quiet { for line in derived { say(line) } }
        let lengths = recipe.fitTextLengths(to: train.captions)
        if !quiet { say("text lengths from the captions: Q-Former \(lengths.qformer), LM \(lengths.lm) tokens") }
        guard recipe.config.vision.imageSize == imageSize else {
            throw ValidationError("--vision-checkpoint expects \(recipe.config.vision.imageSize)-pixel images (its position table); pass --image-size \(recipe.config.vision.imageSize)")
        }
        var settings = RunSettings(outDir: outDir)
        settings.resume = resume
        settings.verbose = !quiet
        settings.checkpointEvery = checkpointEvery
        settings.peakLR = lr
        settings.warmup = warmup
        settings.weightDecay = weightDecay
        settings.clipNorm = clipNorm
        settings.compiler = Compiler(passes: passes, threads: threads, seed: seed, profile: profile)
        return TinyPipeline(recipe: recipe, train: train, heldOut: heldOut, settings: settings)
    }
}

/// `itc,itm,itg=0.5` → weights by objective (1 when no weight is given).
func parseObjectives(_ text: String) throws -> [Stage1Objective: Double] {
    var weights: [Stage1Objective: Double] = [:]
    for item in text.split(separator: ",") {
        let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let o = Stage1Objective(rawValue: parts[0]) else {
            throw ValidationError("--objectives: unknown objective '\(parts[0])' (expected itc, itm or itg)")
        }
        guard let w = parts.count == 2 ? Double(parts[1]) : 1, w > 0, w.isFinite else {
            throw ValidationError("--objectives: the weight of \(parts[0]) must be a positive number, got '\(parts[1])'")
        }
        weights[o] = w
    }
    guard !weights.isEmpty else { throw ValidationError("--objectives: name at least one of itc, itm, itg") }
    return weights
}

func say(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }

func budget(steps: Int?, minutes: Double?, defaultSteps: Int) -> Budget {
    Budget(steps: steps ?? (minutes == nil ? defaultSteps : nil), minutes: minutes)
}

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pretrain the frozen unimodal models: a CLIP-style ViT and a caption LM.")
    @OptionGroup var common: Common
    @Option(help: "ViT pretraining steps.") var vitSteps: Int?
    @Option(help: "ViT pretraining time budget in minutes.") var vitMinutes: Double?
    @Option(help: "LM pretraining steps.") var lmSteps: Int?
    @Option(help: "LM pretraining time budget in minutes.") var lmMinutes: Double?
    func run() throws {
        InterruptFlag.install()
        let p = try common.pipeline()
        if common.visionCheckpoint == nil {
            _ = try p.pretrainVision(budget(steps: vitSteps, minutes: vitMinutes, defaultSteps: 1500))
        } else { say("ViT pretraining skipped: --vision-checkpoint is given") }
        if common.lmCheckpoint == nil {
            _ = try p.pretrainLanguageModel(budget(steps: lmSteps, minutes: lmMinutes, defaultSteps: 600))
        } else { say("LM pretraining skipped: --lm-checkpoint is given") }
    }
}

struct Stage1: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stage 1: train the Q-Former with ITC + ITM + ITG against the frozen ViT.")
    @OptionGroup var common: Common
    @Option(help: "Training steps.") var steps: Int?
    @Option(help: "Time budget in minutes.") var minutes: Double?
    @Option(help: "Steps between held-out evaluations (retrieval, ITM).") var evalEvery: Int?
    func run() throws {
        InterruptFlag.install()
        var p = try common.pipeline()
        if let evalEvery { p = p.with(evalEvery: evalEvery) }
        let features = try p.imageFeatures()
        _ = try p.stage1(budget(steps: steps, minutes: minutes, defaultSteps: 1500), features: features)
        print("stage 1 held-out:\n" + formatMetrics(try p.evaluateStage1(features: features)))
    }
}

struct Stage2: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stage 2: connect the stage-1 Q-Former to the frozen LM and train with the LM loss; then caption.")
    @OptionGroup var common: Common
    @Option(help: "Training steps.") var steps: Int?
    @Option(help: "Time budget in minutes.") var minutes: Double?
    @Option(help: "Beam width for captioning (1 = greedy).") var beams = 1
    @Option(help: "Held-out images to caption.") var captions = 1000
    func run() throws {
        InterruptFlag.install()
        let p = try common.pipeline()
        let features = try p.imageFeatures()
        _ = try p.stage2(budget(steps: steps, minutes: minutes, defaultSteps: 1000), features: features)
        try reportCaptions(p, count: captions, beams: beams)
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate the stage-1 and stage-2 checkpoints on the held-out split.")
    @OptionGroup var common: Common
    @Option(help: "Re-rank the ITC top-k with the ITM head (LAVIS retrieval); 0 = off.") var rerank = 0
    @Option(help: "Beam width for captioning (1 = greedy).") var beams = 1
    @Option(help: "Held-out images to caption.") var captions = 1000
    func run() throws {
        let p = try common.pipeline()
        let features = try p.imageFeatures()
        print("stage 1 held-out:\n" + formatMetrics(try p.evaluateStage1(features: features, rerank: rerank > 0 ? rerank : nil)))
        try reportCaptions(p, count: captions, beams: beams)
    }
}

func reportCaptions(_ p: TinyPipeline, count: Int, beams: Int) throws {
    let hyps = try p.generateCaptions(limit: count, beams: beams)
    let refs = Array(p.heldOut.captions.prefix(hyps.count))
    print("stage 2 captions (\(beams > 1 ? "beam \(beams)" : "greedy"), \(hyps.count) held-out images):\n" + formatMetrics(captionReport(hypotheses: hyps, references: refs)))
    for i in 0..<min(8, hyps.count) { print("  [\(i)] generated: \(hyps[i])\n       reference: \(refs[i])") }
    try p.writeCaptionSheet(hypotheses: hyps, count: min(48, hyps.count))
}

struct All: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pretrain the frozen models (if not present), run stage 1 and stage 2, and evaluate: the main job.")
    @OptionGroup var common: Common
    @Option(help: "Total wall-time budget in minutes, split over the phases.") var minutes: Double = 12
    @Option(help: "Beam width for captioning (1 = greedy).") var beams = 1
    func run() throws {
        InterruptFlag.install()
        let start = Date()
        let p = try common.pipeline()
        let frozen = URL(fileURLWithPath: common.out).appendingPathComponent("frozen")
        let m = minutes
        // The frozen ViT bounds both stages. CLIP alone: half the budget for it, and stage 2 plateaus within a
        // minute. With the caption-word objective the features carry shape kind, and stage 2 needs thousands of
        // steps to put it into the soft prompt: 40 % for the ViT, a quarter for stage 2 (Docs/Training.md,
        // measured both ways).
        let (vitShare, stage2Share) = p.recipe.clipSizes.wordWeight > 0 ? (0.40, 0.25) : (0.50, 0.10)
        if common.visionCheckpoint == nil, !FileManager.default.fileExists(atPath: frozen.appendingPathComponent("vision.safetensors").path) {
            _ = try p.pretrainVision(Budget(minutes: vitShare * m))
        }
        if InterruptFlag.isRaised { return }
        if common.lmCheckpoint == nil, !FileManager.default.fileExists(atPath: frozen.appendingPathComponent("lm.safetensors").path) {
            _ = try p.pretrainLanguageModel(Budget(minutes: 0.05 * m))
        }
        if InterruptFlag.isRaised { return }
        let features = try p.imageFeatures()
        let left = { m - Date().timeIntervalSince(start) / 60 }
        // Stage 1 gets the rest but stage 2's share and a twentieth for evaluation and captioning.
        _ = try p.stage1(Budget(minutes: max(0.5, left() - (stage2Share + 0.05) * m)), features: features)
        if InterruptFlag.isRaised { return }
        _ = try p.stage2(Budget(minutes: max(0.5, left() - 0.05 * m)), features: features)
        if InterruptFlag.isRaised { return }
        let s1 = try p.evaluateStage1(features: features)
        print("\n== graphc tiny BLIP-2: \(p.train.count) training images, held-out \(min(1000, p.heldOut.count)), \(String(format: "%.1f", Date().timeIntervalSince(start) / 60)) min ==")
        print("stage 1 retrieval (held-out; '_caption' counts any item with the identical caption):\n" + formatMetrics(s1))
        try reportCaptions(p, count: 1000, beams: beams)
        print("outputs in \(common.out)/ (curves.svg and metrics.jsonl per phase, captions.png)")
    }
}

struct Blip2Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blip2-train",
        abstract: "Train a tiny BLIP-2 with graphc on the CPU: pretrain the frozen models, stage 1, stage 2, evaluate.",
        subcommands: [All.self, Pretrain.self, Stage1.self, Stage2.self, Evaluate.self],
        defaultSubcommand: All.self)
}

Blip2Train.main()
