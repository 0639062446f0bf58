import Foundation
import BLIP2
import GraphAutodiff
import GraphIO
import GraphIR
import GraphPasses
import GraphRuntime

/// `graphc blip2 run`: a Hugging Face BLIP-2 model folder and a `transformers`-style inputs file in, the
/// outputs (and stage-2 gradients) that `transformers` would compute out, under the names of
/// Tests/BLIP2Tests/Fixtures/README.md.
public struct BLIP2Run {
    public let folder: String
    public let model: RunModel
    public let config: HFBlip2Config
    public let blip2: BLIP2Config
    public let weights: HFWeights

    /// Reads `config.json`, checks that the folder holds a checkpoint of a class `model` can read, and checks
    /// every key and shape of the weights (errors are the transformers-style load report).
    public init(folder: String, model: RunModel) throws {
        self.folder = folder
        self.model = model
        config = try HFBlip2Config.load(path: folder)
        if let name = config.architecture, let architecture = HFArchitecture(rawValue: name), !model.architectures.contains(architecture) {
            throw GraphIOError(.json, "\(folder)/config.json: the checkpoint is a \(name); --model \(model.rawValue) reads \(model.architectures.map(\.rawValue).joined(separator: " or "))")
        }
        blip2 = try config.blip2Config(name: "hf")
        let layout = HFCheckpointLayout(config: config, architecture: model.architectures[0])
        weights = try HFWeights(folder: folder, layout: layout)
    }

    /// The forward graph for `inputs`' sizes (eval mode: no dropout).
    public func graph(for inputs: RunInputs) throws -> Graph {
        switch model {
        case .conditionalGeneration:
            let target = inputs.labels?.first?.count ?? 1
            let shapes = BLIP2Shapes(batch: inputs.batch, textLength: inputs.textLength, targetLength: config.isEncoderDecoder ? target : 1)
            return try BLIP2Model.build(config: blip2, stage: .two, mode: .eval, shapes: shapes)
        case .retrieval:
            return try RetrievalGraph.build(config: blip2, batch: inputs.batch, textLength: inputs.textLength)
        }
    }

    /// Runs the model on the reference interpreter and returns the outputs by their fixture names; with
    /// `grads`, also `grad.<HF name>` for every trainable parameter (needs `labels`).
    public func run(_ inputs: RunInputs, grads: Bool = false, evaluate: Evaluator = .interpreter,
                    timer: PhaseTimer = PhaseTimer()) throws -> [String: Tensor] {
        let forward = try timer.measure("build graph") { try self.graph(for: inputs) }
        var feeds: [String: Tensor] = [
            "pixel_values": inputs.pixelValues,
            "input_ids": Tensor(ints: inputs.textIds.flatMap { $0 }, shape: [inputs.batch, inputs.textLength]).cast(to: .i32),
            "attention_mask": Tensor(ints: inputs.textMask.flatMap { $0 }, shape: [inputs.batch, inputs.textLength]).cast(to: .i32),
        ]
        let hasLabels = inputs.labels != nil
        if model == .conditionalGeneration {
            let labels = try labelRows(inputs)
            feeds["labels"] = Tensor(ints: labels.flatMap { $0 }, shape: [labels.count, labels.first?.count ?? 0]).cast(to: .i32)
        }
        if grads && !hasLabels {
            throw GraphIOError(.safetensors, "--grads needs 'labels' in the inputs (the gradients are of the LM loss)")
        }
        var graph = forward
        var gradientNames: [(output: String, parameter: String)] = []
        if grads {
            guard model == .conditionalGeneration, let loss = forward.output("loss") else {
                throw GraphIOError(.safetensors, "--grads is defined for the conditional-generation model (the stage-2 LM loss)")
            }
            let result = try timer.measure("autodiff") { try gradients(of: loss, in: forward) }
            graph = result.graph
            for (name, value) in result.gradients {
                graph.output("grad." + name, value)
                gradientNames.append(("grad." + name, name))
            }
        }
        let values = try evaluate.run(graph, feeds, weights, timer)
        var out: [String: Tensor] = [:]
        for name in ["vision_last_hidden_state", "qformer_last_hidden_state", "language_projection_output", "itm_logits", "logits_per_image"] {
            if let v = values[name] { out[name] = v }
        }
        if model == .conditionalGeneration {
            out["logits"] = try hfLogits(values, inputs)
            if hasLabels, let loss = values["loss"] { out["loss"] = loss.reshaped([]) }
        }
        for (output, _) in gradientNames { out[output] = values[output] }
        return out
    }

    /// OPT labels for the text positions; T5 decoder targets as given. Without labels, all positions are
    /// ignored (the graph always computes a loss; it is not reported then).
    func labelRows(_ inputs: RunInputs) throws -> [[Int]] {
        if config.isEncoderDecoder {
            return inputs.labels ?? [[Int]](repeating: [-100], count: inputs.batch)
        }
        return try inputs.textLabels(queryCount: config.numQueryTokens)
            ?? [[Int]](repeating: [Int](repeating: -100, count: inputs.textLength), count: inputs.batch)
    }

    /// HF returns decoder-only logits for the last `labels.shape[1]` positions when labels are given.
    func hfLogits(_ values: [String: Tensor], _ inputs: RunInputs) throws -> Tensor {
        guard let logits = values["logits"] else { throw GraphIOError(.safetensors, "the graph has no 'logits' output") }
        guard !config.isEncoderDecoder, let labelLength = inputs.labels?.first?.count else { return logits }
        let (b, l, v) = (logits.shape[0], logits.shape[1], logits.shape[2])
        guard labelLength < l else { return logits }
        var scalars: [Double] = []
        scalars.reserveCapacity(b * labelLength * v)
        for row in 0..<b {
            let start = (row * l + (l - labelLength)) * v
            scalars.append(contentsOf: logits.scalars[start..<(start + labelLength * v)])
        }
        return Tensor(logits.dtype, [b, labelLength, v], scalars)
    }
}

/// How a graph is evaluated with the checkpoint's weights.
public struct Evaluator {
    public let run: (_ graph: Graph, _ inputs: [String: Tensor], _ weights: HFWeights, _ timer: PhaseTimer) throws -> [String: Tensor]

    public init(_ run: @escaping (Graph, [String: Tensor], HFWeights, PhaseTimer) throws -> [String: Tensor]) { self.run = run }

    /// The reference interpreter: plain loops over `Double` host tensors (8 bytes per weight); for small models.
    public static let interpreter = Evaluator { graph, inputs, weights, timer in
        let parameters = try timer.measure("load weights") { try weights.tensors(for: graph) }
        return try timer.measure("execute") { try Interpreter().run(graph, inputs: inputs, parameters: parameters) }
    }

    /// The CPU executor (BLAS GEMMs, static memory plan) on the graph as built; weights go to its parameter
    /// store as `f32`.
    public static let executor = Evaluator { graph, inputs, weights, timer in
        try execute(graph, inputs, weights, timer)
    }

    /// The executor after the optimizing passes (canonicalize, fold-masks, cse, fuse, dce; `freeze` is left out
    /// because it needs every frozen weight as a host tensor). The passes must not change a number beyond
    /// rounding, so the parity tests run this path too.
    public static let optimizedExecutor = Evaluator { graph, inputs, weights, timer in
        let optimized = try timer.measure("passes") { () -> Graph in
            var g = graph
            for pass in try ["canonicalize", "fold-masks", "cse", "fuse", "fold-masks", "dce"].map(Passes.named) {
                g = try pass.run(g, PassContext())
            }
            return g
        }
        return try execute(optimized, inputs, weights, timer)
    }

    static func execute(_ graph: Graph, _ inputs: [String: Tensor], _ weights: HFWeights, _ timer: PhaseTimer) throws -> [String: Tensor] {
        let store = ParameterStore()
        try timer.measure("load weights") {
            try weights.load(into: graph) { name, shape, values in try store.set(name, floats: Array(values), shape: shape) }
        }
        let executable = try timer.measure("lower") { try Executable(graph, parameters: store) }
        return try timer.measure("execute") { try executable.run(inputs).all() }
    }
}

/// Wall-clock time of each phase of a run, in order (printed by `graphc blip2 run`).
public final class PhaseTimer {
    public private(set) var phases: [(name: String, seconds: Double)] = []

    public init() {}

    public func measure<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        let clock = ContinuousClock()
        let start = clock.now
        defer {
            let elapsed = clock.now - start
            phases.append((name, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))
        }
        return try body()
    }

    /// `build graph 0.01 s, load weights 0.20 s, ...`
    public var summary: String {
        phases.map { "\($0.name) \(String(format: "%.2f", $0.seconds)) s" }.joined(separator: ", ")
    }
}
