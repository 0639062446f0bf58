// Whole training steps (forward, backward, AdamW) of graphs compiled the way the trainers compile them
// (TrainingKit's `Compiler`), with the `fuse` pass (`all`) and without it (`no-fuse`), alternating in one process.
import BLIP2
import GraphAutodiff
import GraphIR
import GraphPasses
import GraphRuntime
import TrainingKit

/// Values for every input of a training graph `g`: learning rate 1e-4, step 1, updates applied; floats in [-1, 1),
/// token ids in [4, vocabulary), masks of ones (the last quarter of each row zero, as padding), seeds.
func trainingInputs(_ g: Graph, vocabulary: Int) -> [String: Tensor] {
    var inputs: [String: Tensor] = [:]
    for (k, (name, value)) in g.inputs.enumerated() {
        let t = g.type(of: value)
        let n = t.count
        if name == TrainingGraph.learningRateInput {
            inputs[name] = Tensor(t.dtype, t.shape, [1e-4])
        } else if name == TrainingGraph.stepInput || name == TrainingGraph.applyUpdateInput {
            inputs[name] = Tensor(t.dtype, t.shape, [1])
        } else if t.dtype.isFloat {
            inputs[name] = Tensor(t.dtype, t.shape, randomFloats(n, seed: 20 + k).map(Double.init))
        } else if name.hasSuffix("seed") {
            inputs[name] = Tensor(t.dtype, t.shape, [Double](repeating: 11, count: n))
        } else if name.contains("mask") || t.dtype == .bool {
            let row = t.shape.last ?? 1
            inputs[name] = Tensor(t.dtype, t.shape, (0..<n).map { ($0 % row) < max(1, row * 3 / 4) ? 1 : 0 })
        } else {
            inputs[name] = Tensor(t.dtype, t.shape, (0..<n).map { Double(4 + ($0 &* 2_654_435_761) % max(1, vocabulary - 4)) })
        }
    }
    return inputs
}

/// One model's training step compiled with `all` and with `no-fuse`; best of `pairs` alternating runs each.
func compareTrainingStep(_ label: String, model: Graph, vocabulary: Int, pairs: Int) throws {
    var inputs: [String: Tensor] = [:]
    var executables: [Compiler.Passes: Executable] = [:]
    var kernels: [Compiler.Passes: Int] = [:]
    for mode in [Compiler.Passes.all, .noFuse] {
        let compiler = Compiler(passes: mode, threads: threads, seed: 7)
        let training = try compiler.trainingGraph(model, weightDecay: 0.05, clip: 1.0)
        if inputs.isEmpty { inputs = trainingInputs(training, vocabulary: vocabulary) }
        // Each mode owns its parameters: AdamW updates them every step.
        executables[mode] = try Executable(training, parameters: ParameterStore(), options: compiler.runtime())
        kernels[mode] = GraphStats(training).kernels
    }
    if CommandLine.arguments.contains("--profile") {
        // Where the time goes, per kernel: separate profiled executables, so the timed ones read no clocks.
        for mode in [Compiler.Passes.all, .noFuse] {
            let compiler = Compiler(passes: mode, threads: threads, seed: 7)
            var options = compiler.runtime()
            options.profile = true
            let exe = try Executable(try compiler.trainingGraph(model, weightDecay: 0.05, clip: 1.0), parameters: ParameterStore(), options: options)
            for _ in 0..<5 { _ = try exe.run(inputs) }
            print("# \(label), passes \(mode.rawValue)\n" + (exe.profile?.table(top: 25) ?? "").split(separator: "\n").map { "# " + $0 }.joined(separator: "\n"))
        }
    }
    let fused = executables[.all]!, unfused = executables[.noFuse]!
    // The first step starts from the same parameters: both losses must agree before the times mean anything.
    let lossFused = try fused.run(inputs).all()["loss"]?.scalars.first ?? .nan
    let lossUnfused = try unfused.run(inputs).all()["loss"]?.scalars.first ?? .nan
    let load0 = loadAverage()
    let (tFused, tUnfused) = try bestOfPairs(pairs, { _ = try fused.run(inputs) }, { _ = try unfused.run(inputs) })
    emit([("bench", "training step: \(label)"), ("all_ms", tFused * 1e3), ("no_fuse_ms", tUnfused * 1e3),
          ("speedup_all_over_no_fuse", tUnfused / tFused), ("kernels_all", kernels[.all]!), ("kernels_no_fuse", kernels[.noFuse]!),
          ("first_loss_all", lossFused), ("first_loss_no_fuse", lossUnfused), ("threads", threads), ("pairs", pairs),
          ("load_average_1min", (load0 + loadAverage()) / 2)])
}

func runTrainingStepBenchmark() throws {
    let pairs = quick ? 3 : 21
    let (b, l, d) = quick ? (4, 32, 128) : (8, 128, 256)
    try compareTrainingStep("2x BERT layer B\(b) L\(l) D\(d) H4 (post-LN, GELU, padding mask), AdamW",
                            model: try passesBenchGraph(batch: b, length: l, width: d, heads: 4, layers: 2), vocabulary: 1, pairs: pairs)
    // The stage-1 trainer's graph (Stages.swift): tiny BLIP-2, batch 64, text 16, after the frozen image encoder.
    let config = BLIP2Config.tiny()
    let batch = quick ? 8 : 64
    let model = try BLIP2Model.build(config: config, stage: .one, mode: .train, shapes: BLIP2Shapes(batch: batch, textLength: 16))
    let rest = splitFrozenPrefix(model, inputs: ["pixel_values"]).rest
    try compareTrainingStep("BLIP-2 tiny stage 1 (ITC+ITM+ITG), batch \(batch), text 16, AdamW", model: rest,
                            vocabulary: config.qformer.vocabulary, pairs: pairs)
}
