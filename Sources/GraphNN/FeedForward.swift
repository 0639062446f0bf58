import GraphIR

/// The activation between the two projections of a feed-forward block.
public enum Activation: Sendable, Equatable {
    /// Exact (erf) GELU, as BERT, EVA ViT and BLIP-2's FlanT5.
    case gelu
    /// tanh-approximated GELU (`gelu_new`).
    case geluTanh
    case relu
    /// x·sigmoid(x) (LLaMA's SiLU).
    case silu
}

extension Layers {
    /// Applies `activation` elementwise.
    public func activate(_ x: Value, _ activation: Activation, file: String = #fileID, line: Int = #line) throws -> Value {
        switch activation {
        case .gelu: return try graph.gelu(x, file: file, line: line)
        case .geluTanh: return try graph.gelu(x, approximate: true, file: file, line: line)
        case .relu: return try graph.relu(x, file: file, line: line)
        case .silu: return try graph.mul(x, graph.sigmoid(x, file: file, line: line), file: file, line: line)
        }
    }

    /// Two-layer MLP `down(act(up(x)))`; parameter names are given relative to the current scope
    /// (e.g. `"fc1"`/`"fc2"` for OPT and EVA, `"intermediate.dense"`/`"output.dense"` for BERT).
    public func mlp(_ x: Value, hidden: Int, activation: Activation, up: String, down: String, bias: Bool = true,
                    file: String = #fileID, line: Int = #line) throws -> Value {
        let h = try linear(x, outFeatures: hidden, name: up, bias: bias, file: file, line: line)
        let a = try activate(h, activation, file: file, line: line)
        return try linear(a, outFeatures: width(x), name: down, bias: bias, file: file, line: line)
    }

    /// Gated MLP `down(act(gate(x)) ⊙ up(x))`: SwiGLU with `.silu` (LLaMA `gate_proj`/`up_proj`/`down_proj`),
    /// gated-GELU with `.gelu` (T5 `wi_0`/`wi_1`/`wo`).
    public func gatedMLP(_ x: Value, hidden: Int, activation: Activation, gate: String, up: String, down: String,
                         bias: Bool = false, file: String = #fileID, line: Int = #line) throws -> Value {
        let g = try activate(linear(x, outFeatures: hidden, name: gate, bias: bias, file: file, line: line), activation,
                             file: file, line: line)
        let u = try linear(x, outFeatures: hidden, name: up, bias: bias, file: file, line: line)
        return try linear(graph.mul(g, u, file: file, line: line), outFeatures: width(x), name: down, bias: bias,
                          file: file, line: line)
    }
}
