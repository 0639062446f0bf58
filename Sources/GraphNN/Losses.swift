import GraphIR

extension Layers {
    /// Mean cross-entropy over every position of `logits` `[..., C]` against `labels` `[...]` (`i32`), skipping
    /// `ignoreIndex`, with PyTorch's label smoothing. Leading axes are flattened first.
    public func crossEntropyLoss(logits: Value, labels: Value, ignoreIndex: Int = -100, labelSmoothing: Double = 0,
                                 file: String = #fileID, line: Int = #line) throws -> Value {
        let s = graph.type(of: logits).shape
        let rows = s.dropLast().reduce(1, *)
        let flatLogits = s.count == 2 ? logits : try graph.reshape(logits, [rows, s.last ?? 1], file: file, line: line)
        let flatLabels = graph.type(of: labels).rank == 1 ? labels : try graph.reshape(labels, [rows], file: file, line: line)
        return try graph.crossEntropy(logits: flatLogits, labels: flatLabels, ignoreIndex: ignoreIndex,
                                      labelSmoothing: labelSmoothing, file: file, line: line)
    }

    /// Next-token loss: logits at position `j` of `[B, L, V]` score `labels[:, j + 1]` (the shift of Hugging Face's
    /// causal-LM heads, so the first label is never a target).
    public func causalLMLoss(logits: Value, labels: Value, ignoreIndex: Int = -100, labelSmoothing: Double = 0,
                             file: String = #fileID, line: Int = #line) throws -> Value {
        let s = graph.type(of: logits).shape
        guard s.count == 3, graph.type(of: labels).shape == [s[0], s[1]], s[1] >= 2 else {
            throw GraphError(.build, "\(SourceLocation(file: file, line: line)): causal_lm_loss in scope '\(graph.currentScope)': "
                + "logits \(s) and labels \(graph.type(of: labels).shape) must be [B, L, V] and [B, L] with L >= 2")
        }
        let predicting = try graph.slice(logits, axis: 1, 0..<(s[1] - 1), file: file, line: line)
        let targets = try graph.slice(labels, axis: 1, 1..<s[1], file: file, line: line)
        return try crossEntropyLoss(logits: predicting, labels: targets, ignoreIndex: ignoreIndex,
                                    labelSmoothing: labelSmoothing, file: file, line: line)
    }
}
