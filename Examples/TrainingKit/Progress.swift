import Foundation

/// One-line progress for long runs: step, losses, learning rate, throughput and ETA, rewritten in place on a
/// terminal and printed as plain lines otherwise (CI logs).
public final class ProgressReporter {
    let label: String
    let totalSteps: Int?
    let budgetSeconds: Double?
    let start = Date()
    var lastPrint = Date.distantPast
    let interactive = isatty(STDERR_FILENO) != 0
    let minInterval: Double

    public init(label: String, totalSteps: Int?, budgetSeconds: Double?, minInterval: Double = 2) {
        self.label = label
        self.totalSteps = totalSteps
        self.budgetSeconds = budgetSeconds
        self.minInterval = minInterval
    }

    public var elapsed: Double { Date().timeIntervalSince(start) }

    /// Reports step `step` (1-based count of finished steps). Prints at most every `minInterval` seconds unless forced.
    public func report(step: Int, examples: Int, losses: [(String, Double)], lr: Double, force: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(lastPrint) >= minInterval else { return }
        lastPrint = now
        let t = elapsed
        let rate = Double(examples) / max(t, 1e-9)
        var remaining: Double? = nil
        if let totalSteps, step > 0 { remaining = t / Double(step) * Double(max(totalSteps - step, 0)) }
        if let budgetSeconds { remaining = min(remaining ?? .infinity, max(budgetSeconds - t, 0)) }
        let lossText = losses.map { "\($0.0) \(String(format: "%.4f", $0.1))" }.joined(separator: "  ")
        let stepText = totalSteps.map { "\(step)/\($0)" } ?? "\(step)"
        let line = "[\(label)] step \(stepText)  \(lossText)  lr \(String(format: "%.2e", lr))  \(String(format: "%.1f", rate)) ex/s  elapsed \(formatDuration(t))  ETA \(remaining.map(formatDuration) ?? "?")"
        if interactive {
            FileHandle.standardError.write(("\r\u{1B}[K" + line + (force ? "\n" : "")).data(using: .utf8)!)
        } else {
            FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
        }
    }
}

public func formatDuration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
}

/// Appends one JSON object per line (metrics.jsonl next to the checkpoints).
public final class MetricsLog {
    let url: URL
    public private(set) var records: [[String: Double]] = []

    public init(url: URL, resumeFrom: Bool) throws {
        self.url = url
        if resumeFrom, let text = try? String(contentsOf: url, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                if let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] {
                    records.append(obj.compactMapValues { ($0 as? NSNumber)?.doubleValue })
                }
            }
        } else {
            try Data().write(to: url)
        }
    }

    /// Drops records after `step` (used when resuming from an older checkpoint than the log's end).
    public func truncate(after step: Int) throws {
        records = records.filter { ($0["step"] ?? 0) <= Double(step) }
        try Data(records.map(Self.line).joined().utf8).write(to: url, options: .atomic)
    }

    public func append(_ record: [String: Double]) throws {
        records.append(record)
        let h = try FileHandle(forWritingTo: url)
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: Data(Self.line(record).utf8))
    }

    static func line(_ r: [String: Double]) -> String {
        let body = r.keys.sorted().map { k in "\"\(k)\": \(r[k]!.isFinite ? String(r[k]!) : "null")" }.joined(separator: ", ")
        return "{\(body)}\n"
    }
}

/// Ctrl-C sets a flag the step loop polls, so the trainer saves a checkpoint and exits cleanly.
public enum InterruptFlag {
    nonisolated(unsafe) private static var raised: sig_atomic_t = 0
    nonisolated(unsafe) private static var source: DispatchSourceSignal?

    public static func install() {
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler {
            if raised != 0 { exit(130) }   // a second Ctrl-C exits at once
            raised = 1
            FileHandle.standardError.write("\ninterrupt: finishing the step, saving a checkpoint, then exiting (Ctrl-C again to abort)\n".data(using: .utf8)!)
        }
        s.resume()
        source = s
    }

    public static var isRaised: Bool { raised != 0 }
    /// For tests: simulate an interrupt.
    public static func raise() { raised = 1 }
    public static func reset() { raised = 0 }
}
