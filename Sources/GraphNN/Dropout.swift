import GraphIR

extension Layers {
    /// Inverted dropout from the counter-based RNG: keeps each element with probability `1 - rate` and scales by
    /// `1 / (1 - rate)`. Pass `seed: nil` (evaluation) or `rate: 0` and nothing is emitted. Each call site gets its
    /// own salt, so two dropout sites with the same seed draw independent masks.
    public func dropout(_ x: Value, rate: Double, seed: Value?, file: String = #fileID, line: Int = #line) throws -> Value {
        guard let seed, rate > 0 else { return x }
        guard rate < 1 else {
            throw GraphError(.build, "\(SourceLocation(file: file, line: line)): dropout in scope '\(graph.currentScope)': rate must be in [0, 1), got \(rate)")
        }
        let t = graph.type(of: x)
        let u = try graph.randomUniform(seed: seed, shape: t.shape, t.dtype, file: file, line: line)
        let keep = try graph.emit(.ge, [u, graph.constant(rate, shape: [], t.dtype, file: file, line: line)], file: file, line: line)
        let scaled = try graph.binary(.mul, x, scalar: 1 / (1 - rate), file: file, line: line)
        return try graph.select(keep, scaled, graph.constant(0, shape: [], t.dtype, file: file, line: line), file: file, line: line)
    }
}
