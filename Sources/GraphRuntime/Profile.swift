import Foundation
import GraphIR

/// Wall-clock time per kernel, accumulated over the steps an `Executable` ran with `RuntimeOptions.profile`.
/// Rows are grouped by op and implementation (e.g. `matmul · sgemm`), so a report shows where a step's time goes
/// the way `torch.profiler`'s key averages do.
public struct KernelProfile {
    public struct Row {
        /// `op · kernel`, e.g. `attention · gemm attention` or `copy · copy` for the plan's synthetic copies.
        public var name: String
        public var seconds: Double
        /// Kernel launches summed over all profiled steps.
        public var calls: Int
    }
    public var rows: [Row]
    public var steps: Int
    public var totalSeconds: Double { rows.reduce(0) { $0 + $1.seconds } }

    /// A table of the `top` most expensive rows: ms per step, share of the step, calls per step.
    public func table(top: Int = 20) -> String {
        let total = max(totalSeconds, 1e-12), n = Double(max(steps, 1))
        var lines = ["kernel time per step over \(steps) steps: \(String(format: "%.2f", total / n * 1e3)) ms",
                     "      ms/step   share  calls/step  op · kernel"]
        for r in rows.prefix(top) {
            lines.append(String(format: "  %11.3f  %5.1f%%  %10.1f  ", r.seconds / n * 1e3, 100 * r.seconds / total, Double(r.calls) / n) + r.name)
        }
        if rows.count > top {
            let rest = rows.dropFirst(top).reduce(0) { $0 + $1.seconds }
            lines.append(String(format: "  %11.3f  %5.1f%%  %10s  ", rest / n * 1e3, 100 * rest / total, "") + "(\(rows.count - top) more)")
        }
        return lines.joined(separator: "\n")
    }
}

/// Per-step accumulation inside an executable: one slot per program step, keyed on the step index so the hot
/// loop only adds two integers.
struct StepTimer {
    var nanoseconds: [UInt64]
    var runs = 0

    init(steps: Int) { nanoseconds = [UInt64](repeating: 0, count: steps) }

    @inline(__always) static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    func profile(_ program: Program) -> KernelProfile {
        var byName: [String: KernelProfile.Row] = [:]
        for (k, s) in program.steps.enumerated() {
            let op = s.node.map { program.graph.nodes[$0].op.rawValue } ?? "copy"
            let name = "\(op) · \(s.spec.name)"
            byName[name, default: KernelProfile.Row(name: name, seconds: 0, calls: 0)].seconds += Double(nanoseconds[k]) * 1e-9
            byName[name]!.calls += runs
        }
        return KernelProfile(rows: byName.values.sorted { $0.seconds > $1.seconds }, steps: runs)
    }
}
