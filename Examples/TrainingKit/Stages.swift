import Foundation
import GraphIR
import GraphNN
import GraphPasses
import GraphRuntime
import GraphIO
import BLIP2

/// Image features of the frozen prefix (the ViT before BLIP-2's trainable post-layernorm), per example.
public struct FeatureCache {
    public var train: [Float]
    public var heldOut: [Float]
    /// `[tokens, width]` of one example.
    public var shape: [Int]
    public var perExample: Int { shape.reduce(1, *) }

    public func batch(_ features: [Float], _ indices: [Int]) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(indices.count * perExample)
        for i in indices { out.append(contentsOf: features[(i * perExample)..<((i + 1) * perExample)]) }
        return out
    }
}

extension TinyPipeline {
    func loadFrozen(_ names: [String], into store: ParameterStore) throws {
        for name in names {
            let url = settings.outDir.appendingPathComponent("frozen").appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw TrainingError("\(url.path) is missing: run the pretraining first (blip2-train pretrain) or pass a checkpoint")
            }
            try store.load(try SafetensorsFile(path: url.path).allTensors())
        }
    }

    /// The frozen prefix of a BLIP-2 graph: exactly one boundary value (the image encoder's output).
    func frozenPrefix(_ g: Graph) throws -> FrozenPrefixSplit {
        let split = splitFrozenPrefix(g, inputs: ["pixel_values"])
        guard split.boundary.count == 1 else {
            throw TrainingError("expected the frozen image encoder to give one boundary value, got \(split.boundary)")
        }
        return split
    }

    /// Runs the frozen image encoder once over both splits (the frozen-prefix feature cache). The features are
    /// kept in memory and on disk (`frozen/features.safetensors`, keyed by the vision weights' hash).
    public func imageFeatures() throws -> FeatureCache {
        let e = recipe.evalBatch
        let model = try BLIP2Model.build(config: config, stage: .one, mode: .eval,
                                         shapes: BLIP2Shapes(batch: e, textLength: recipe.qformerTextLength))
        let split = try frozenPrefix(model)
        let weightsHash = try frozenVisionHash()
        // Keyed by the weights and the pixels themselves, so changed images or weights never reuse stale features.
        let pixelHash = { (set: ExampleSet) in set.pixels.withUnsafeBytes { GraphIO.stableHash($0) } }
        let key = "\(String(weightsHash, radix: 16))-\(String(pixelHash(train), radix: 16))-\(String(pixelHash(heldOut), radix: 16))"
        let cachePath = settings.outDir.appendingPathComponent("frozen/features.safetensors").path
        let name = split.boundary[0]
        let shape = Array(split.prefix.type(of: split.prefix.output(name)!).shape.dropFirst())
        // The shape check keeps a cache of another ViT layout (say, another --patch-size) from being reused.
        if let file = try? SafetensorsFile(path: cachePath), file.metadata["key"] == key,
           let cached = try? file.info("train").shape, Array(cached.dropFirst()) == shape {
            return FeatureCache(train: try file.floats("train"), heldOut: try file.floats("held_out"), shape: shape)
        }
        let store = ParameterStore()
        try loadFrozen(.vision, into: store, for: split.prefix)
        let exe: Executable
        do { exe = try settings.compiler.forward(split.prefix, store: store) } catch {
            throw TrainingError("the frozen image encoder's weights do not fit the tiny ViT of this run (were they trained with another --patch-size or --image-size?): \(error)")
        }
        let per = shape.reduce(1, *)
        func run(_ set: ExampleSet) throws -> [Float] {
            var out = [Float](repeating: 0, count: set.count * per)
            try batched(set.count, batch: e) { idx, real in
                let f = try exe.run(floats: ["pixel_values": set.pixelBatch(idx)]).floats(name)
                let base = idx[0] * per
                for k in 0..<(real * per) { out[base + k] = f[k] }
            }
            return out
        }
        let cache = FeatureCache(train: try run(train), heldOut: try run(heldOut), shape: shape)
        try SafetensorsWriter.write([SafetensorsEntry(name: "train", floats: cache.train, shape: [train.count] + shape),
                                     SafetensorsEntry(name: "held_out", floats: cache.heldOut, shape: [heldOut.count] + shape)],
                                    metadata: ["key": key], to: cachePath)
        return cache
    }

    // MARK: stage 1

    /// Stage 1 (ITC + ITM + ITG) on the cached image features; writes `stage1/checkpoint.safetensors`.
    public func stage1(_ budget: Budget, features: FeatureCache, onStep: ((Int) -> Void)? = nil) throws -> LoopSummary {
        let b = recipe.stage1Batch, t = recipe.qformerTextLength
        let model = try BLIP2Model.build(config: config, stage: .one, mode: .train,
                                         shapes: BLIP2Shapes(batch: b, textLength: t, itmPairs: recipe.stage1ItmPairs.map { min($0, b) }))
        let split = try frozenPrefix(try weightingObjectives(model, self.recipe.stage1Objectives))
        let lossOutputs = split.rest.outputs.map(\.name).filter { $0 == "loss" || $0.hasPrefix("loss_") }
        let c = settings.compiler
        let store = ParameterStore()
        try initializeQFormer(into: store, for: split.rest)
        let evaluator = try Stage1Evaluator(pipeline: self, store: store, features: features)
        let train = self.train, recipe = self.recipe, featureName = split.boundary[0]
        let usesDropout = split.rest.inputs.contains { $0.name == "dropout_seed" }
        let batches = BatchSchedule(batch: b, count: train.count, seed: recipe.seed &+ 2)
        let task = try GraphTrainingTask(
            training: c.trainingGraph(split.rest, weightDecay: settings.weightDecay, clip: settings.clipNorm), store: store,
            options: c.runtime(checkFinite: ["loss"]), lossOutputs: lossOutputs,
            inputs: { step in
                let idx = batches.indices(step: step)
                let text = recipe.qformerText(idx.map { train.captions[$0] })
                var others = ["input_ids": text.ids, "attention_mask": text.mask,
                              "sampling_seed": Tensor(.i32, [], [Double((recipe.seed &* 7919 &+ step) & 0x7FFF_FFFF)])]
                if usesDropout { others["dropout_seed"] = Tensor(.i32, [], [Double((recipe.seed &* 104_729 &+ step) & 0x7FFF_FFFF)]) }
                return ([featureName: features.batch(features.train, idx)], others, b)
            },
            evaluate: { try evaluator.evaluate(limit: 1000) })
        var options = try loop("stage1", budget, peakLR: 1e-3, minLR: 1e-5, warmup: 100)
        options.onStep = onStep
        return try runTrainingLoop(task, options)
    }

    /// Rewrites the outputs of `g` (a stage-1 graph built for this call) in place: `loss` = Σ weight · objective
    /// over the given objectives. All three with weight 1: the graph as built.
    func weightingObjectives(_ g: Graph, _ weights: [Stage1Objective: Double]) throws -> Graph {
        let kept = Stage1Objective.allCases.filter { weights[$0] != nil }
        guard !kept.isEmpty else { throw TrainingError("stage 1 needs at least one objective of itc, itm, itg") }
        guard kept.count < Stage1Objective.allCases.count || weights.values.contains(where: { $0 != 1 }) else { return g }
        let losses = try kept.map { o -> Value in
            guard let v = g.output("loss_" + o.rawValue) else { throw TrainingError("stage-1 graph has no loss_\(o.rawValue)") }
            return weights[o]! == 1 ? v : try g.binary(.mul, v, scalar: weights[o]!)
        }
        let total = try losses.dropFirst().reduce(losses[0]) { try g.add($0, $1) }
        // Only the losses stay outputs, so DCE removes the passes (and diagnostics) no kept objective reads.
        let keep = Set(kept.map { "loss_" + $0.rawValue } + ["vision_last_hidden_state"])
        g.outputs = g.outputs.filter { keep.contains($0.name) } + [(name: "loss", value: total)]
        return g
    }

    // MARK: stage 2

    /// Stage 2 (LM loss through the frozen LM) from the stage-1 Q-Former; writes `stage2/checkpoint.safetensors`.
    public func stage2(_ budget: Budget, features: FeatureCache) throws -> LoopSummary {
        let b = recipe.stage2Batch, t = recipe.lmTextLength
        let model = try BLIP2Model.build(config: config, stage: .two, mode: .train, shapes: BLIP2Shapes(batch: b, textLength: t))
        let split = try frozenPrefix(model)
        let c = settings.compiler
        let store = ParameterStore()
        try loadFrozen(.languageModel, into: store, for: split.rest)
        try loadStage1(into: store, for: split.rest)
        let train = self.train, recipe = self.recipe, featureName = split.boundary[0]
        let usesDropout = split.rest.inputs.contains { $0.name == "dropout_seed" }
        let batches = BatchSchedule(batch: b, count: train.count, seed: recipe.seed &+ 3)
        let task = try GraphTrainingTask(
            training: c.trainingGraph(split.rest, weightDecay: settings.weightDecay, clip: settings.clipNorm), store: store,
            options: c.runtime(checkFinite: ["loss"]), lossOutputs: ["loss"],
            inputs: { step in
                let idx = batches.indices(step: step)
                let text = recipe.lmText(idx.map { train.captions[$0] })
                var others = ["input_ids": text.ids, "attention_mask": text.mask, "labels": recipe.labels(ids: text.ids, mask: text.mask)]
                if usesDropout { others["dropout_seed"] = Tensor(.i32, [], [Double((recipe.seed &* 15_485_863 &+ step) & 0x7FFF_FFFF)]) }
                return ([featureName: features.batch(features.train, idx)], others, b)
            })
        return try runTrainingLoop(task, loop("stage2", budget, peakLR: 1e-3, minLR: 1e-5, warmup: 100))
    }

    /// Copies the stage-1 weights that a graph uses (Q-Former, queries, post-layernorm) into `store`.
    func loadStage1(into store: ParameterStore, for g: Graph) throws {
        let ck = try Checkpoint.load(from: settings.outDir.appendingPathComponent("stage1"))
        var loaded = 0
        for p in g.parameters where p.role == .trainable {
            if let t = ck.state[p.name] {
                try store.set(p.name, t)
                loaded += 1
            }
        }
        guard loaded > 0 else { throw TrainingError("the stage-1 checkpoint shares no parameter with the stage-2 graph") }
    }
}
