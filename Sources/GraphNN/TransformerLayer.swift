import GraphIR

/// Where a transformer layer normalizes: BERT normalizes after each residual add (post-LN); ViT, OPT, LLaMA and
/// T5 normalize the input of each sublayer (pre-LN).
public enum NormPlacement: Sendable { case pre, post }

/// Which normalization a layer uses.
public enum NormKind: Sendable, Equatable { case layerNorm, rmsNorm }

/// The description of a standard transformer layer (self-attention then feed-forward), with the parameter
/// names of the checkpoint it mirrors. Names are relative to the layer's scope.
public struct TransformerLayerSpec: Sendable {
    public var layout: HeadLayout
    public var attentionScope: String
    public var attentionNames: AttentionNames
    public var attentionNorm: String
    public var ffnHidden: Int
    public var activation: Activation
    /// Gated FFNs name three projections (gate, up, down); plain ones two (up, down).
    public var gated: Bool
    public var ffnNames: [String]
    public var ffnBias: Bool
    public var ffnNorm: String
    public var placement: NormPlacement
    public var norm: NormKind
    public var eps: Double

    public init(layout: HeadLayout, attentionScope: String, attentionNames: AttentionNames, attentionNorm: String,
                ffnHidden: Int, activation: Activation, gated: Bool, ffnNames: [String], ffnBias: Bool, ffnNorm: String,
                placement: NormPlacement, norm: NormKind, eps: Double) {
        self.layout = layout
        self.attentionScope = attentionScope
        self.attentionNames = attentionNames
        self.attentionNorm = attentionNorm
        self.ffnHidden = ffnHidden
        self.activation = activation
        self.gated = gated
        self.ffnNames = ffnNames
        self.ffnBias = ffnBias
        self.ffnNorm = ffnNorm
        self.placement = placement
        self.norm = norm
        self.eps = eps
    }

    /// BERT encoder layer (post-LN, exact GELU, eps 1e-12): `attention.attention.*`, `attention.output.*`,
    /// `intermediate.dense`, `output.dense`, `output.LayerNorm`.
    public static func bert(hidden: Int, heads: Int, intermediate: Int, eps: Double = 1e-12) -> TransformerLayerSpec {
        TransformerLayerSpec(layout: HeadLayout(heads: heads, headDim: hidden / heads), attentionScope: "attention",
                             attentionNames: .bert, attentionNorm: "attention.output.LayerNorm", ffnHidden: intermediate,
                             activation: .gelu, gated: false, ffnNames: ["intermediate.dense", "output.dense"], ffnBias: true,
                             ffnNorm: "output.LayerNorm", placement: .post, norm: .layerNorm, eps: eps)
    }
}

extension Layers {
    /// Applies the spec's normalization (`<name>.weight` and, for LayerNorm, `<name>.bias`).
    public func normalize(_ x: Value, _ kind: NormKind, name: String, eps: Double, file: String = #fileID, line: Int = #line) throws -> Value {
        switch kind {
        case .layerNorm: return try layerNorm(x, name: name, eps: eps, file: file, line: line)
        case .rmsNorm: return try rmsNorm(x, name: name, eps: eps, file: file, line: line)
        }
    }

    /// `norm(x + delta)` (post-LN residual).
    public func postNormResidual(_ x: Value, _ delta: Value, _ kind: NormKind, name: String, eps: Double,
                                 file: String = #fileID, line: Int = #line) throws -> Value {
        try normalize(graph.add(x, delta, file: file, line: line), kind, name: name, eps: eps, file: file, line: line)
    }

    /// One transformer layer in the current scope. Returns the layer output and the self-attention keys/values.
    public func transformerLayer(_ x: Value, spec: TransformerLayerSpec, options: AttentionOptions = AttentionOptions(),
                                 dropoutRate: Double = 0, seed: Value? = nil,
                                 file: String = #fileID, line: Int = #line) throws -> AttentionResult {
        func attend(_ h: Value) throws -> AttentionResult {
            try scope(spec.attentionScope) {
                try multiHeadAttention(h, layout: spec.layout, names: spec.attentionNames, options: options, file: file, line: line)
            }
        }
        func feedForward(_ h: Value) throws -> Value {
            spec.gated
                ? try gatedMLP(h, hidden: spec.ffnHidden, activation: spec.activation, gate: spec.ffnNames[0], up: spec.ffnNames[1],
                               down: spec.ffnNames[2], bias: spec.ffnBias, file: file, line: line)
                : try mlp(h, hidden: spec.ffnHidden, activation: spec.activation, up: spec.ffnNames[0], down: spec.ffnNames[1],
                          bias: spec.ffnBias, file: file, line: line)
        }
        switch spec.placement {
        case .post:
            let a = try attend(x)
            let h = try postNormResidual(x, dropout(a.output, rate: dropoutRate, seed: seed, file: file, line: line), spec.norm,
                                         name: spec.attentionNorm, eps: spec.eps, file: file, line: line)
            let f = try dropout(feedForward(h), rate: dropoutRate, seed: seed, file: file, line: line)
            let out = try postNormResidual(h, f, spec.norm, name: spec.ffnNorm, eps: spec.eps, file: file, line: line)
            return AttentionResult(output: out, keys: a.keys, values: a.values)
        case .pre:
            let a = try attend(normalize(x, spec.norm, name: spec.attentionNorm, eps: spec.eps, file: file, line: line))
            let h = try graph.add(x, dropout(a.output, rate: dropoutRate, seed: seed, file: file, line: line), file: file, line: line)
            let f = try feedForward(normalize(h, spec.norm, name: spec.ffnNorm, eps: spec.eps, file: file, line: line))
            let out = try graph.add(h, dropout(f, rate: dropoutRate, seed: seed, file: file, line: line), file: file, line: line)
            return AttentionResult(output: out, keys: a.keys, values: a.values)
        }
    }
}
