import GraphIR

/// The context every layer builder works in: the graph, the role new parameters get, and the default weight
/// initializer. Parameter names are the current graph scope plus a local name (`<scope>.weight`), so building a
/// model inside `graph.scope("qformer.encoder.layer.3")` yields Hugging Face checkpoint names one to one.
///
/// `Layers` is a value: `nn.with(role: .frozen)` gives a copy that creates frozen parameters, which is how a
/// frozen image encoder or language model is built next to a trainable Q-Former in the same graph.
public struct Layers {
    public let graph: Graph
    /// Role of the parameters this builder creates.
    public var role: ParameterRole
    /// Initializer of weight matrices and embedding tables (BERT's N(0, 0.02) unless told otherwise).
    public var weightInit: Initializer
    /// When true, a parameter that already exists under the same name is reused (the same module applied
    /// again, e.g. BLIP-2's Q-Former run under three masks); its shape must match. When false, a second
    /// parameter with the same name is an error.
    public var sharesExisting: Bool = false
    /// Leading scope that names nodes but not parameters (see `pass(_:_:)`).
    public private(set) var passPrefix: String = ""

    public init(_ graph: Graph, role: ParameterRole = .trainable, weightInit: Initializer = .bertNormal) {
        self.graph = graph
        self.role = role
        self.weightInit = weightInit
    }

    /// A copy that creates parameters with `role`.
    public func with(role: ParameterRole) -> Layers {
        var c = self
        c.role = role
        return c
    }

    /// The full parameter name of `local` in the current scope (without the pass prefix).
    public func parameterName(_ local: String) -> String {
        var s = graph.currentScope
        if !passPrefix.isEmpty {
            if s + "." == passPrefix { s = "" } else if s.hasPrefix(passPrefix) { s.removeFirst(passPrefix.count) }
        }
        return s.isEmpty ? local : s + "." + local
    }

    /// A copy that names parameters as `other` does inside its pass (for a second builder, e.g. the frozen one,
    /// used inside a pass opened by the first).
    public func inSamePass(as other: Layers) -> Layers {
        var c = self
        c.passPrefix = other.passPrefix
        return c
    }

    /// Runs `body` in node scope `name` with a builder whose parameter names ignore that scope: one model
    /// applied in several passes (e.g. `itc`, `itm`, `itg`) shows the pass in every node's scope while all
    /// passes share the checkpoint-named parameters. Implies `sharing()`.
    public func pass<R>(_ name: String, _ body: (Layers) throws -> R) rethrows -> R {
        var c = sharing()
        c.passPrefix = passPrefix + name + "."
        return try graph.scope(name) { try body(c) }
    }

    /// A copy that reuses parameters that already exist (see `sharesExisting`).
    public func sharing() -> Layers {
        var c = self
        c.sharesExisting = true
        return c
    }

    /// A new parameter `<scope>.<local>` with this builder's role (or the existing one, when sharing).
    public func parameter(_ local: String, _ shape: [Int], initializer: Initializer,
                          file: String = #fileID, line: Int = #line) throws -> Value {
        let name = parameterName(local)
        if sharesExisting, let p = graph.parameters.first(where: { $0.name == name }) {
            guard graph.type(of: p.value).shape == shape, p.role == role else {
                throw GraphError(.build, "\(SourceLocation(file: file, line: line)): parameter '\(name)' is reused as \(shape) \(role.rawValue) "
                    + "but exists as \(graph.type(of: p.value).shape) \(p.role.rawValue)")
            }
            return p.value
        }
        return try graph.parameter(name, shape, role: role, initializer: initializer, file: file, line: line)
    }

    /// An existing parameter by full name (for tied weights such as an LM head sharing the embedding table).
    public func existingParameter(_ fullName: String, file: String = #fileID, line: Int = #line) throws -> Value {
        guard let p = graph.parameters.first(where: { $0.name == fullName }) else {
            throw GraphError(.build, "\(SourceLocation(file: file, line: line)): no parameter named '\(fullName)' to tie to")
        }
        return p.value
    }

    /// Runs `body` inside `graph.scope(name)`; an empty name adds no scope level.
    public func scope<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        name.isEmpty ? try body() : try graph.scope(name, body)
    }

    /// The last dimension of `x` (the feature width every layer reads).
    public func width(_ x: Value) -> Int { graph.type(of: x).shape.last ?? 1 }

    // MARK: Linear and Embedding

    /// `y = x·Wᵀ + b` with `W` stored `[out, in]` as PyTorch; parameters `<name>.weight` and `<name>.bias`.
    /// Leading axes are flattened so the product is one 2-D GEMM.
    public func linear(_ x: Value, outFeatures: Int, name: String, bias: Bool = true,
                       file: String = #fileID, line: Int = #line) throws -> Value {
        try scope(name) {
            let w = try parameter("weight", [outFeatures, width(x)], initializer: weightInit, file: file, line: line)
            let b = bias ? try parameter("bias", [outFeatures], initializer: .zeros, file: file, line: line) : nil
            return try apply(x, weight: w, bias: b, file: file, line: line)
        }
    }

    /// Applies an existing `[out, in]` weight (and optional `[out]` bias) to the last axis of `x`.
    public func apply(_ x: Value, weight: Value, bias: Value? = nil, file: String = #fileID, line: Int = #line) throws -> Value {
        let shape = graph.type(of: x).shape
        let out = graph.type(of: weight).shape[0]
        let rows = shape.dropLast().reduce(1, *)
        let flat = shape.count == 2 ? x : try graph.reshape(x, [rows, shape.last ?? 1], file: file, line: line)
        var y = try graph.matmul(flat, weight, transposeB: true, file: file, line: line)
        if let bias { y = try graph.add(y, bias, file: file, line: line) }
        return shape.count == 2 ? y : try graph.reshape(y, Array(shape.dropLast()) + [out], file: file, line: line)
    }

    /// Looks up rows of a `[vocab, dim]` table (`<name>.weight`) for integer ids of any shape.
    public func embedding(_ ids: Value, vocabulary: Int, dim: Int, name: String,
                          file: String = #fileID, line: Int = #line) throws -> Value {
        try scope(name) {
            let table = try parameter("weight", [vocabulary, dim], initializer: weightInit, file: file, line: line)
            return try graph.gather(table, ids, axis: 0, file: file, line: line)
        }
    }

    // MARK: Normalization

    /// LayerNorm over the last axis with affine `<name>.weight` (ones) and `<name>.bias` (zeros).
    public func layerNorm(_ x: Value, name: String, eps: Double, file: String = #fileID, line: Int = #line) throws -> Value {
        try scope(name) {
            let d = width(x)
            let gamma = try parameter("weight", [d], initializer: .ones, file: file, line: line)
            let beta = try parameter("bias", [d], initializer: .zeros, file: file, line: line)
            return try graph.layerNorm(x, gamma: gamma, beta: beta, eps: eps, file: file, line: line)
        }
    }

    /// RMSNorm (T5 / LLaMA): scale only, `<name>.weight` (ones).
    public func rmsNorm(_ x: Value, name: String, eps: Double, file: String = #fileID, line: Int = #line) throws -> Value {
        try scope(name) {
            let gamma = try parameter("weight", [width(x)], initializer: .ones, file: file, line: line)
            return try graph.rmsNorm(x, gamma: gamma, eps: eps, file: file, line: line)
        }
    }
}

extension Initializer {
    /// BERT / ViT weight init: N(0, 0.02).
    public static let bertNormal = Initializer.normal(std: 0.02)
    /// timm / EVA style: N(0, 0.02) truncated at two standard deviations.
    public static let truncatedBertNormal = Initializer.truncatedNormal(std: 0.02)
}
