import GraphAutodiff
import GraphIR

/// Counts for `graphc dump --stats`: ops by kind, parameters by role, and FLOPs per op kind from each op's
/// `OpSpec.flops` (a multiply-add counts as 2). Parameters need no storage, so this works on paper-size graphs.
/// (GraphPasses' `GraphStats` is the smaller per-pass summary the pass manager records.)
public struct DumpStats: Equatable {
    public struct OpCount: Equatable {
        public var op: OpKind
        public var count: Int
        public var flops: Int
    }
    public struct RoleCount: Equatable {
        public var role: ParameterRole
        public var tensors: Int
        public var elements: Int
        public var bytes: Int
    }

    /// Op kinds in `OpKind` order, only those present.
    public var ops: [OpCount]
    /// Roles in `ParameterRole` order, only those present.
    public var parameters: [RoleCount]
    public var nodeCount: Int
    public var totalFlops: Int { ops.reduce(0) { saturatingSum($0, $1.flops) } }

    public init(_ g: Graph) {
        var byKind: [OpKind: OpCount] = [:]
        for n in g.nodes {
            let flops = n.op.spec.flops(n.operands.map { g.type(of: $0) }, n.type, n.attributes)
            var c = byKind[n.op] ?? OpCount(op: n.op, count: 0, flops: 0)
            c.count += 1
            c.flops = saturatingSum(c.flops, flops)
            byKind[n.op] = c
        }
        ops = OpKind.allCases.compactMap { byKind[$0] }
        var byRole: [ParameterRole: RoleCount] = [:]
        for p in g.parameters {
            let t = g.type(of: p.value)
            var c = byRole[p.role] ?? RoleCount(role: p.role, tensors: 0, elements: 0, bytes: 0)
            c.tensors += 1
            c.elements = saturatingSum(c.elements, t.count)
            c.bytes = saturatingSum(c.bytes, t.byteCount)
            byRole[p.role] = c
        }
        parameters = ParameterRole.allCases.compactMap { byRole[$0] }
        nodeCount = g.nodes.count
    }

    /// A plain-text report with aligned columns.
    public func report(graphName: String) -> String {
        var lines = ["graph \(graphName): \(nodeCount) nodes", "", "ops by kind:"]
        let opWidth = max(4, ops.map(\.op.mnemonic.count).max() ?? 0)
        let flopsWidth = max(18, grouped(totalFlops).count)
        lines.append("  " + pad("op", opWidth) + "  " + lpad("count", 7) + "  " + lpad("flops", flopsWidth))
        for o in ops {
            lines.append("  " + pad(o.op.mnemonic, opWidth) + "  " + lpad(String(o.count), 7) + "  " + lpad(grouped(o.flops), flopsWidth))
        }
        lines.append("  " + pad("total", opWidth) + "  " + lpad(String(nodeCount), 7) + "  " + lpad(grouped(totalFlops), flopsWidth)
                     + "  (" + humanCount(Double(totalFlops), unit: "FLOP") + ")")
        lines += ["", "parameters by role:"]
        if parameters.isEmpty {
            lines.append("  none")
        } else {
            lines.append("  " + pad("role", 9) + "  " + lpad("tensors", 7) + "  " + lpad("elements", 15) + "  " + lpad("bytes", 15))
            for r in parameters {
                lines.append("  " + pad(r.role.rawValue, 9) + "  " + lpad(String(r.tensors), 7) + "  "
                             + lpad(grouped(r.elements), 15) + "  " + lpad(grouped(r.bytes), 15)
                             + "  (" + humanCount(Double(r.elements), unit: "") + " params, " + humanBytes(r.bytes) + ")")
            }
            let e = parameters.reduce(0) { saturatingSum($0, $1.elements) }, b = parameters.reduce(0) { saturatingSum($0, $1.bytes) }
            let t = parameters.reduce(0) { $0 + $1.tensors }
            lines.append("  " + pad("total", 9) + "  " + lpad(String(t), 7) + "  " + lpad(grouped(e), 15) + "  " + lpad(grouped(b), 15))
        }
        return lines.joined(separator: "\n")
    }
}

extension DumpStats {
    /// The `autodiff:` section of `--train --stats`.
    static func autodiffReport(_ a: AutodiffStats) -> String {
        [
            "autodiff:",
            "  forward FLOPs         " + lpad(grouped(a.forwardFLOPs), 18),
            "  backward FLOPs        " + lpad(grouped(a.backwardFLOPs), 18)
                + "  (differentiating every parameter: " + grouped(a.backwardFLOPsDifferentiatingEverything) + ")",
            "  optimizer FLOPs       " + lpad(grouped(a.optimizerFLOPs), 18),
            "  saved for backward    " + lpad(grouped(a.savedValues), 18) + " values, " + grouped(a.savedBytes) + " bytes ("
                + humanBytes(a.savedBytes) + ")",
        ].joined(separator: "\n")
    }
}

/// `a + b`, stuck at `Int.max` instead of trapping: counts of a hand-written file can be absurdly large.
func saturatingSum(_ a: Int, _ b: Int) -> Int {
    let (s, overflow) = a.addingReportingOverflow(b)
    return overflow ? Int.max : s
}

private func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
private func lpad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }

/// `1234567` → `1,234,567`.
func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

/// `3.9e9, "FLOP"` → `3.90 GFLOP`, `298, "FLOP"` → `298 FLOP`, `67, ""` → `67` (decimal prefixes).
func humanCount(_ x: Double, unit: String) -> String {
    for (limit, prefix) in [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] where x >= limit {
        return formatFixed(x / limit, 2) + " " + prefix + unit
    }
    return formatFixed(x, 0) + (unit.isEmpty ? "" : " " + unit)
}

/// Binary units for memory: `1536` → `1.50 KiB`.
func humanBytes(_ n: Int) -> String {
    let x = Double(n)
    for (limit, suffix) in [(1099511627776.0, "TiB"), (1073741824.0, "GiB"), (1048576.0, "MiB"), (1024.0, "KiB")] where x >= limit {
        return formatFixed(x / limit, 2) + " " + suffix
    }
    return "\(n) B"
}

/// Fixed-point formatting without Foundation's locale-dependent `String(format:)`.
func formatFixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (x * scale).rounded()
    let whole = Int(r / scale), frac = Int(r) - whole * Int(scale)
    return digits == 0 ? String(whole) : "\(whole)." + lpad(String(frac), digits).replacingOccurrences(" ", "0")
}

private extension String {
    func replacingOccurrences(_ a: Character, _ b: Character) -> String { String(map { $0 == a ? b : $0 }) }
}
