import GraphIR
import GraphNN

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
    let nn = Layers(g)
    var h = x
    let widths = c.hidden + [c.classes]
    for (i, width) in widths.enumerated() {
        var layer = nn
        layer.weightInit = .normal(std: (2 / Double(nn.width(h))).squareRoot())  // He init for ReLU
        h = try layer.linear(h, outFeatures: width, name: "layer.\(i)")
        if i + 1 < widths.count { h = try g.relu(h) }
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
