import GraphIR

extension Layers {
    /// The boolean visibility matrix of `mask` built from ordinary ops (iota, comparisons, logical ops):
    /// `[B or 1, 1, lq, lk]`, true where query row `i` may attend key `j`. Same semantics as the `attention`
    /// op's mask attribute (bottom-right alignment, `lens` = valid keys per batch row).
    ///
    /// Models emit the attribute directly; this tensor form exists so that a mask-folding pass has a
    /// recognisable pattern to fold, and so tests can print a mask as a matrix.
    public func visibilityMatrix(_ pattern: MaskPattern, lq: Int, lk: Int, lens: Value? = nil,
                                 file: String = #fileID, line: Int = #line) throws -> Value {
        let g = graph
        let rows = try g.iota([lq, 1], axis: 0, file: file, line: line)
        let cols = try g.iota([1, lk], axis: 1, file: file, line: line)
        let p = try g.binary(.add, rows, scalar: Double(lk - lq), file: file, line: line)   // absolute query position
        var allowed: Value
        switch pattern {
        case .none:
            let all = try g.emit(.le, [cols, g.constant(Double(lk), shape: [], .i32, file: file, line: line)], file: file, line: line)
            allowed = try g.broadcast(all, to: [lq, lk], file: file, line: line)
        case .causal:
            allowed = try g.emit(.le, [cols, p], file: file, line: line)
        case .prefixCausal(let n):
            let inPrefix = try g.emit(.lt, [cols, g.constant(Double(n), shape: [], .i32, file: file, line: line)], file: file, line: line)
            allowed = try g.emit(.logicalOr, [inPrefix, g.emit(.le, [cols, p], file: file, line: line)], file: file, line: line)
        case .block(let sizes):
            let ids = sizes.enumerated().flatMap { b, s in [Double](repeating: Double(b), count: s) }
            let rowIds = try g.gather(g.constant(Tensor(.i32, [ids.count], ids), file: file, line: line), p, axis: 0, file: file, line: line)
            let colIds = try g.constant(Tensor(.i32, [1, ids.count], ids), file: file, line: line)
            allowed = try g.emit(.eq, [rowIds, colIds], file: file, line: line)
        }
        allowed = try g.reshape(allowed, [1, 1, lq, lk], file: file, line: line)
        guard let lens else { return allowed }
        let b = g.type(of: lens).shape[0]
        let limit = try g.reshape(lens, [b, 1, 1, 1], file: file, line: line)
        let valid = try g.emit(.lt, [g.reshape(cols, [1, 1, 1, lk], file: file, line: line), limit], file: file, line: line)
        return try g.emit(.logicalAnd, [allowed, valid], file: file, line: line)
    }

    /// The additive form `(1 - visible) · -10000` used by BERT / BLIP-2 (`[B or 1, 1, lq, lk]`), to pass as the
    /// `attention` op's bias with mask `none`.
    public func additiveMask(_ pattern: MaskPattern, lq: Int, lk: Int, lens: Value? = nil, dtype: DType = .f32,
                             file: String = #fileID, line: Int = #line) throws -> Value {
        let visible = try visibilityMatrix(pattern, lq: lq, lk: lk, lens: lens, file: file, line: line)
        return try graph.select(visible, graph.constant(0, shape: [], dtype, file: file, line: line),
                                graph.constant(-10_000, shape: [], dtype, file: file, line: line), file: file, line: line)
    }
}
