import Foundation
import GraphIR
import GraphIO
import GraphAutodiff

/// What the generic loop drives: one optimizer step at a time, its state as named tensors, an evaluation.
public protocol TrainingTask: AnyObject {
    /// Runs optimizer step `index` (0-based) at learning rate `lr`; returns losses by name and the examples used.
    /// Everything random in a step must derive from (seed, index) so a resumed run repeats it exactly.
    func step(_ index: Int, lr: Double) throws -> (losses: [String: Double], examples: Int)
    /// Weights and optimizer state, by name.
    func state() throws -> [String: Tensor]
    func restore(_ state: [String: Tensor]) throws
    /// Held-out metrics, keys without the `eval.` prefix.
    func evaluate() throws -> [String: Double]
}

public struct LoopOptions {
    public var label: String
    public var outDir: URL
    /// Stop after this many steps.
    public var steps: Int?
    /// Or after this much wall time; the step count is then fixed from the speed of the first 100 steps and stored
    /// in the checkpoint so a resumed run follows the same schedule.
    public var minutes: Double?
    public var checkpointEvery: Int
    public var evalEvery: Int?
    public var resume: Bool
    public var peakLR: Double
    public var minLR: Double
    public var warmup: Int
    /// Print progress lines (off in tests).
    public var verbose: Bool
    /// Called with the number of finished steps after each step (tests use it to simulate a Ctrl-C).
    public var onStep: ((Int) -> Void)? = nil

    public init(label: String, outDir: URL, steps: Int? = nil, minutes: Double? = nil, checkpointEvery: Int = 200,
                evalEvery: Int? = nil, resume: Bool = false, peakLR: Double = 1e-4, minLR: Double = 1e-5, warmup: Int = 100,
                verbose: Bool = true) {
        self.label = label
        self.outDir = outDir
        self.steps = steps
        self.minutes = minutes
        self.checkpointEvery = checkpointEvery
        self.evalEvery = evalEvery
        self.resume = resume
        self.peakLR = peakLR
        self.minLR = minLR
        self.warmup = warmup
        self.verbose = verbose
    }
}

public struct LoopSummary {
    public var steps: Int
    public var seconds: Double
    public var lastLosses: [String: Double]
    public var eval: [String: Double]
    public var interrupted: Bool
}

/// The checkpoint file of a run: weights + optimizer state as tensors; step, schedule and label as metadata.
public enum Checkpoint {
    public static func url(in dir: URL) -> URL { dir.appendingPathComponent("checkpoint.safetensors") }

    public static func save(_ state: [String: Tensor], step: Int, totalSteps: Int, label: String, to dir: URL) throws {
        try SafetensorsWriter.write(state, metadata: ["format": "graphc-checkpoint-1", "label": label, "step": String(step),
                                                      "total_steps": String(totalSteps)], to: url(in: dir).path)
    }

    public static func load(from dir: URL) throws -> (state: [String: Tensor], step: Int, totalSteps: Int) {
        let file = try SafetensorsFile(path: url(in: dir).path)
        guard file.metadata["format"] == "graphc-checkpoint-1", let step = file.metadata["step"].flatMap(Int.init),
              let total = file.metadata["total_steps"].flatMap(Int.init) else {
            throw TrainingError("\(url(in: dir).path): not a graphc training checkpoint (metadata \(file.metadata))")
        }
        return (try file.allTensors(), step, total)
    }
}

/// Runs a task to its step count or time budget with progress, metrics, plots, periodic atomic checkpoints,
/// exact resume and a clean stop on Ctrl-C.
public func runTrainingLoop(_ task: TrainingTask, _ o: LoopOptions) throws -> LoopSummary {
    try FileManager.default.createDirectory(at: o.outDir, withIntermediateDirectories: true)
    var start = 0
    var total = o.steps ?? 0
    if o.resume, FileManager.default.fileExists(atPath: Checkpoint.url(in: o.outDir).path) {
        let ck = try Checkpoint.load(from: o.outDir)
        try task.restore(ck.state)
        start = ck.step
        total = ck.totalSteps
        if o.verbose { log("[\(o.label)] resumed from step \(start) of \(total)") }
    }
    let metrics = try MetricsLog(url: o.outDir.appendingPathComponent("metrics.jsonl"), resumeFrom: o.resume)
    if o.resume { try metrics.truncate(after: start) }
    let budget = o.minutes.map { $0 * 60 }
    let progress = ProgressReporter(label: o.label, totalSteps: total > 0 ? total : nil, budgetSeconds: budget)
    var step = start, examples = 0, last: [String: Double] = [:], evalResult: [String: Double] = [:]
    var interrupted = false
    var schedule = WarmupCosineSchedule(baseRate: o.peakLR, warmupSteps: o.warmup, totalSteps: max(total, 1), minRate: o.minLR)
    // The speed is measured over steps 3…20 of this run (the first steps pay for cold caches and page faults),
    // then again over steps 20…100: 18 steps are a short sample, and one slow moment in them cost a run 30 % of
    // its budget. Changing the step count by step 100 leaves the learning rates already used unchanged as long
    // as the warm-up has not ended (100 steps by default).
    let (calibrationStart, calibrationEnd, recalibrationEnd) = (start + 2, start + 20, start + max(100, o.warmup))
    var calibrationClock = 0.0, recalibrationClock = 0.0
    let calibrating = total == 0 && budget != nil
    func save() throws {
        try Checkpoint.save(try task.state(), step: step, totalSteps: total, label: o.label, to: o.outDir)
    }
    while total == 0 || step < total {
        if InterruptFlag.isRaised { interrupted = true; break }
        if let budget, progress.elapsed >= budget { break }
        let r = try task.step(step, lr: schedule.rate(atStep: step + 1))
        step += 1
        examples += r.examples
        last = r.losses
        // A time budget fixes the step count once the speed is known (and never changes it after a resume).
        if calibrating, let budget {
            func fixTotal(since clock: Double, steps: Int) {
                let perStep = (progress.elapsed - clock) / Double(steps)
                total = step + max(1, Int((budget - progress.elapsed) / max(perStep, 1e-6) * 0.95))
                schedule.totalSteps = total
            }
            if step == calibrationStart { calibrationClock = progress.elapsed }
            if step == calibrationEnd { recalibrationClock = progress.elapsed; fixTotal(since: calibrationClock, steps: calibrationEnd - calibrationStart) }
            if step == recalibrationEnd, step < total { fixTotal(since: recalibrationClock, steps: recalibrationEnd - calibrationEnd) }
        }
        var record = r.losses.mapValues { $0 }
        record["step"] = Double(step)
        record["lr"] = schedule.rate(atStep: step)
        if let every = o.evalEvery, step % every == 0 {
            evalResult = try task.evaluate()
            for (k, v) in evalResult { record["eval." + k] = v }
        }
        try metrics.append(record)
        if o.verbose {
            progress.report(step: step, examples: examples, losses: r.losses.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                            lr: schedule.rate(atStep: step))
        }
        if step % o.checkpointEvery == 0 { try save() }
        o.onStep?(step)
        for (k, v) in r.losses where !v.isFinite {
            try save()
            throw TrainingError("[\(o.label)] \(k) is \(v) at step \(step); checkpoint saved, stopping")
        }
    }
    try save()
    if o.verbose, step > start {
        progress.report(step: step, examples: examples, losses: last.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                        lr: schedule.rate(atStep: step), force: true)
    }
    if let profile = (task as? GraphTrainingTask)?.executable.profile, profile.steps > 0 {
        if o.verbose { log("[\(o.label)] " + profile.table()) }
        try profile.table(top: .max).write(to: o.outDir.appendingPathComponent("profile.txt"), atomically: true, encoding: .utf8)
    }
    try SVGPlot.fromMetrics(title: o.label, records: metrics.records).render()
        .write(to: o.outDir.appendingPathComponent("curves.svg"), atomically: true, encoding: .utf8)
    return LoopSummary(steps: step, seconds: progress.elapsed, lastLosses: last, eval: evalResult, interrupted: interrupted)
}

func log(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
