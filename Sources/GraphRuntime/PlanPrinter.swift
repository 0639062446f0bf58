import GraphIR

extension Program: CustomStringConvertible {
    /// The lowered program as text: the kernel list (node, op, implementation, buffers), every buffer with its
    /// region, offset, size and lifetime, then peak arena bytes and the bytes saved against allocating every
    /// value. `graphc dump MODEL --after lower` prints this.
    public var description: String {
        var lines: [String] = []
        let p = plan
        lines.append("program \(graph.name): \(steps.count) kernels, \(p.buffers.count) buffers, threads \(threads)")
        lines.append("kernels:")
        for s in steps {
            let what: String
            if let i = s.node {
                let n = graph.nodes[i]
                what = "%\(i) = \(n.op.mnemonic)(\(n.operands.map(\.description).joined(separator: ", "))) : \(n.type)"
                    + (n.scope.isEmpty ? "" : "  [\(n.scope)]")
            } else {
                what = "copy out of a parameter buffer"
            }
            var bufs = "b\(s.outputBuffer) <- " + s.operandBuffers.map { "b\($0)" }.joined(separator: ", ")
            if s.inPlace { bufs += " (in place)" }
            if let sc = s.scratchBuffer { bufs += " scratch b\(sc)" }
            lines.append("  t\(s.time) \(what)  | \(s.spec.name) | \(bufs)\(s.spec.usesBLAS ? " | blas threads" : "")")
        }
        lines.append("buffers:")
        for b in p.buffers {
            let vals = b.isScratch ? "scratch" : b.values.map { "%\($0)" }.joined(separator: " ")
            let life = b.region == .arena ? "live \(b.firstUse)...\(b.lastUse)" : "persistent"
            lines.append("  b\(b.id) \(b.region) @\(b.offset) \(b.bytes) B \(life)  \(vals)")
        }
        lines.append("peak arena bytes: \(p.arenaBytes)")
        lines.append("constant bytes: \(p.constantBytes)")
        lines.append("parameter bytes: \(p.buffers.filter { if case .parameter = $0.region { return true }; return false }.reduce(0) { $0 + $1.bytes })")
        lines.append("unplanned bytes: \(p.unplannedBytes) (every value and scratch allocated separately)")
        lines.append("saved bytes: \(p.savedBytes)")
        return lines.joined(separator: "\n")
    }
}
