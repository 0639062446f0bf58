import GraphIR

/// A multilayer perceptron classifier with ReLU between layers and a cross-entropy loss.
struct MLPConfig {
    var batch: Int
    var inputs: Int
    var hidden: [Int]
    var classes: Int

    static let configs: [(name: String, config: MLPConfig)] = [
        ("tiny", MLPConfig(batch: 2, inputs: 4, hidden: [8], classes: 3)),
        ("mnist", MLPConfig(batch: 64, inputs: 784, hidden: [256, 128], classes: 10)),
    ]
}

/// Builds `logits = mlp(x)` and `loss = cross_entropy(logits, labels)`.
func buildMLP(_ c: MLPConfig) throws -> Graph {
    let g = Graph(name: "mlp")
    let x = try g.input("x", [c.batch, c.inputs])
    let labels = try g.input("labels", [c.batch], .i32)
    var h = x
    let widths = [c.inputs] + c.hidden + [c.classes]
    for i in 0..<(widths.count - 1) {
        h = try g.scope("layer.\(i)") {
            let w = try g.parameter("layer.\(i).weight", [widths[i], widths[i + 1]],
                                    initializer: .normal(std: (2 / Double(widths[i])).squareRoot()))
            let b = try g.parameter("layer.\(i).bias", [widths[i + 1]], initializer: .zeros)
            let y = try g.add(try g.matmul(h, w), b)
            return i + 2 < widths.count ? try g.relu(y) : y
        }
    }
    g.output("logits", h)
    g.output("loss", try g.scope("loss") { try g.crossEntropy(logits: h, labels: labels) })
    return g
}

extension ModelEntry {
    static let mlp = ModelEntry(
        name: "mlp", summary: "multilayer perceptron classifier (ReLU, cross-entropy loss)",
        configs: MLPConfig.configs.map(\.name)
    ) { options in
        let name = options.config ?? MLPConfig.configs[0].name
        guard let c = MLPConfig.configs.first(where: { $0.name == name })?.config else {
            throw CLIError("model 'mlp' has no config '\(name)'")
        }
        return try buildMLP(c)
    }
}
