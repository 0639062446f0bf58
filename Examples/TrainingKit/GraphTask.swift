import GraphIR
import GraphAutodiff
import GraphRuntime

/// A training task over a compiled training graph (forward, backward, optimizer update) on the executor.
/// Inputs of step `i` come from `inputs(i)`; the learning rate and the 1-based optimizer step are added here.
public final class GraphTrainingTask: TrainingTask {
    public let executable: Executable
    public let store: ParameterStore
    /// Parameters and optimizer state saved in checkpoints (the frozen weights live in their own files).
    public let checkpointNames: [String]
    let inputs: (Int) throws -> (floats: [String: [Float]], others: [String: Tensor], examples: Int)
    let lossOutputs: [String]
    let evaluator: () throws -> [String: Double]

    public init(training g: Graph, store: ParameterStore, options: RuntimeOptions, lossOutputs: [String],
                inputs: @escaping (Int) throws -> (floats: [String: [Float]], others: [String: Tensor], examples: Int),
                evaluate: @escaping () throws -> [String: Double] = { [:] }) throws {
        executable = try Executable(g, parameters: store, options: options)
        self.store = store
        checkpointNames = g.parameters.filter { $0.role != .frozen }.map(\.name).sorted()
        self.inputs = inputs
        self.lossOutputs = lossOutputs
        self.evaluator = evaluate
    }

    public func step(_ index: Int, lr: Double) throws -> (losses: [String: Double], examples: Int) {
        var x = try inputs(index)
        x.others[TrainingGraph.learningRateInput] = Tensor(scalar: lr)
        x.others[TrainingGraph.stepInput] = Tensor(.i32, [], [Double(index + 1)])
        let out = try executable.run(floats: x.floats, others: x.others)
        var losses: [String: Double] = [:]
        for name in lossOutputs { losses[name] = try out.scalar(name) }
        return (losses, x.examples)
    }

    public func state() throws -> [String: Tensor] {
        var s: [String: Tensor] = [:]
        for n in checkpointNames {
            guard let t = store.tensor(n) else { throw TrainingError("parameter '\(n)' is missing from the store") }
            s[n] = t
        }
        return s
    }

    public func restore(_ state: [String: Tensor]) throws {
        let missing = checkpointNames.filter { state[$0] == nil }
        guard missing.isEmpty else { throw TrainingError("checkpoint lacks \(missing.count) tensors, e.g. \(missing.prefix(3).joined(separator: ", "))") }
        for n in checkpointNames { try store.set(n, state[n]!) }
    }

    public func evaluate() throws -> [String: Double] { try evaluator() }
}
