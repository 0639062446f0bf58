import Testing
import Foundation
import GraphIR
@testable import TrainingKit

/// Noisy linear regression by SGD; the noise of step i is a pure function of (seed, i), as a real task's data order.
final class ToyTask: TrainingTask {
    var w: [Double] = [0, 0, 0]
    var interruptAt: Int?
    var failStateAt: Int?
    var stepsRun = 0
    /// Seconds each step sleeps, by step index (nil: no sleep), to give the loop a speed to measure.
    var sleep: ((Int) -> Double)?

    func step(_ index: Int, lr: Double) throws -> (losses: [String: Double], examples: Int) {
        let x = (0..<3).map { Double(counterUniform(seed: 7, salt: 1, index: index * 3 + $0)) - 0.5 }
        let y = 2 * x[0] - x[1] + 0.5 * x[2] + 0.01 * Double(counterUniform(seed: 7, salt: 2, index: index))
        let err = zip(w, x).map(*).reduce(0, +) - y
        for k in 0..<3 { w[k] -= lr * 2 * err * x[k] }
        stepsRun += 1
        if let s = sleep?(index) { Thread.sleep(forTimeInterval: s) }
        if index + 1 == interruptAt { InterruptFlag.raise() }
        return (["loss": err * err], 1)
    }
    func state() throws -> [String: Tensor] {
        if let f = failStateAt, stepsRun >= f { throw TrainingError("simulated crash while writing") }
        return ["w": Tensor(.f64, [3], w)]
    }
    func restore(_ s: [String: Tensor]) throws { w = s["w"]!.scalars }
    func evaluate() throws -> [String: Double] { ["w0": w[0]] }
}

@Suite(.serialized) struct TrainLoopTests {
    func tempDir() -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-loop-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
    func options(_ dir: URL, resume: Bool = false) -> LoopOptions {
        LoopOptions(label: "toy", outDir: dir, steps: 40, checkpointEvery: 5, evalEvery: 10, resume: resume,
                    peakLR: 0.5, minLR: 0.05, warmup: 4, verbose: false)
    }

    @Test func resumedRunEqualsUninterruptedBitForBit() throws {
        InterruptFlag.reset()
        let full = ToyTask()
        let a = try runTrainingLoop(full, options(tempDir()))
        #expect(a.steps == 40 && !a.interrupted)
        #expect(a.lastLosses["loss"]! < 0.05)

        let dir = tempDir()
        let first = ToyTask()
        first.interruptAt = 17     // Ctrl-C during step 17: the loop saves at 17 and stops
        let b = try runTrainingLoop(first, options(dir))
        #expect(b.interrupted && b.steps == 17)
        InterruptFlag.reset()
        let second = ToyTask()
        let c = try runTrainingLoop(second, options(dir, resume: true))
        #expect(c.steps == 40)
        #expect(second.stepsRun == 23)
        #expect(second.w == full.w)    // exact equality, not a tolerance
        let lines = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 40)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("curves.svg").path))
    }

    @Test func interruptedCheckpointWriteKeepsThePreviousOne() throws {
        InterruptFlag.reset()
        let dir = tempDir()
        let t = ToyTask()
        t.failStateAt = 12         // saves at 5 and 10 succeed; the save at 15 dies before the rename
        #expect(throws: TrainingError.self) { try runTrainingLoop(t, options(dir)) }
        // A writer killed mid-file leaves only its temporary file behind.
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent(".checkpoint.safetensors.tmp-1-2"))
        let ck = try Checkpoint.load(from: dir)
        #expect(ck.step == 10)
        let resumed = ToyTask()
        let r = try runTrainingLoop(resumed, options(dir, resume: true))
        #expect(r.steps == 40)
    }

    /// A time budget fixes the step count from the speed; a slow start (steps 3–20 ten times slower than the
    /// rest, as a busy moment on the machine) must not cut the run to a fraction of its minutes: the loop measures
    /// again over steps 20–100. Measuring only steps 3–20 would stop near step 170.
    @Test func timeBudgetIsSpentDespiteASlowStart() throws {
        InterruptFlag.reset()
        let dir = tempDir()
        let t = ToyTask()
        t.sleep = { $0 < 20 ? 0.010 : 0.001 }
        let budget = 1.8
        let r = try runTrainingLoop(t, LoopOptions(label: "toy", outDir: dir, minutes: budget / 60, checkpointEvery: 10_000,
                                                   peakLR: 0.5, minLR: 0.05, warmup: 4, verbose: false))
        #expect(r.steps > 400, "stopped at step \(r.steps) after \(r.seconds) s")
        #expect(r.seconds < budget + 0.5)
        // The cosine schedule was stretched to the measured speed too (it is stored with the checkpoint).
        #expect(try Checkpoint.load(from: dir).totalSteps > 400)
    }
}
