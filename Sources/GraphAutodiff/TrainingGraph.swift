import GraphIR

/// Options of `trainingGraph(minimizing:in:options:)`.
public struct TrainingOptions {
    public var optimizer: Optimizer
    /// Parameters to train (default: every `trainable` parameter).
    public var wrt: [String]?
    /// Gradient accumulation: with N > 1 each run of the graph is one micro-batch; gradients are summed into
    /// `accum.<param>` state and the optimizer applies their mean only on runs whose `apply_update` input is true.
    public var microBatches: Int
    /// Global-norm clipping: the (averaged) gradients are scaled by min(1, maxNorm / (‖g‖ + 1e-6)), as PyTorch's
    /// `clip_grad_norm_`. The norm before clipping is the output `grad_norm`.
    public var clipGlobalNorm: Double?

    public init(optimizer: Optimizer = .adamW(AdamW()), wrt: [String]? = nil, microBatches: Int = 1, clipGlobalNorm: Double? = nil) {
        self.optimizer = optimizer
        self.wrt = wrt
        self.microBatches = microBatches
        self.clipGlobalNorm = clipGlobalNorm
    }
}

/// One training step as a graph: forward, backward (trainable part only) and the optimizer update.
public struct TrainingGraph {
    public let graph: Graph
    /// The differentiation step this graph was built from (its `graph` is `self.graph` before the update ops).
    public let gradients: GradientResult
    /// Names of the optimizer (and accumulation) state parameters, role `state`.
    public let stateParameters: [String]
    /// Trained parameters that get weight decay.
    public let decayed: [String]
    /// Index of the first accumulation / clipping / optimizer node (backward nodes end here).
    public let optimizerStart: Int

    /// Input names: the learning rate (a scalar of the loss dtype), the 1-based optimizer step (`i32[]`),
    /// and, with gradient accumulation, whether this micro-batch completes a step (`bool[]`).
    public static let learningRateInput = "lr"
    public static let stepInput = "step"
    public static let applyUpdateInput = "apply_update"
}

/// Builds the training graph of `loss`: the gradient transform, optional accumulation and clipping, then one
/// optimizer update per trained parameter written with `Graph.update`. Outputs: the forward outputs, `loss`, and
/// `grad_norm` when clipping. The learning rate is an input so a schedule (`WarmupCosineSchedule`) drives it.
public func trainingGraph(minimizing loss: Value, in model: Graph, options: TrainingOptions = TrainingOptions()) throws -> TrainingGraph {
    guard options.microBatches >= 1 else { throw GraphError(.build, "trainingGraph: microBatches must be >= 1, got \(options.microBatches)") }
    if let c = options.clipGlobalNorm, !(c > 0) { throw GraphError(.build, "trainingGraph: clipGlobalNorm must be > 0, got \(c)") }
    for name in [TrainingGraph.learningRateInput, TrainingGraph.stepInput, TrainingGraph.applyUpdateInput]
    where model.inputs.contains(where: { $0.name == name }) {
        throw GraphError(.build, "trainingGraph: the model already has an input named '\(name)', which the training graph feeds")
    }
    let result = try gradients(of: loss, in: model, wrt: options.wrt)
    let g = result.graph
    g.outputs.removeAll { $0.name.hasPrefix("grad.") }
    if g.output("loss") == nil { g.output("loss", loss) }
    let dtype = g.type(of: loss).dtype
    let optimizerStart = g.nodes.count

    var stateNames: [String] = []
    var decayed: [String] = []
    try g.scope("optimizer") {
        let lr = try g.input(TrainingGraph.learningRateInput, [], dtype)
        let step = try g.cast(g.input(TrainingGraph.stepInput, [], .i32), to: dtype)
        var grads = result.gradients

        var apply: Value?
        if options.microBatches > 1 {
            let flag = try g.input(TrainingGraph.applyUpdateInput, [], .bool)
            apply = flag
            grads = try grads.map { item in
                let name = "accum.\(item.name)", t = g.type(of: item.value)
                let accumulator = try g.parameter(name, t.shape, role: .state, initializer: .zeros, t.dtype)
                stateNames.append(name)
                let total = try g.add(accumulator, item.value)
                g.update(name, try g.select(flag, g.constant(0, shape: [], t.dtype), total))
                return (item.name, try g.binary(.mul, total, scalar: 1 / Double(options.microBatches)))
            }
        }

        if let maxNorm = options.clipGlobalNorm {
            var sum: Value?
            for (_, gv) in grads {
                let s = try g.converted(g.reduceSum(g.mul(gv, gv), axes: Array(0..<g.type(of: gv).rank)), to: dtype)
                sum = try sum.map { try g.add($0, s) } ?? s
            }
            let norm = try g.sqrt(sum ?? g.constant(0, shape: [], dtype))
            g.output("grad_norm", norm)
            let coefficient = try g.binary(.minimum, g.div(g.constant(maxNorm, shape: [], dtype), g.binary(.add, norm, scalar: 1e-6)), scalar: 1)
            grads = try grads.map { ($0.name, try g.mul($0.value, g.converted(coefficient, to: g.type(of: $0.value).dtype))) }
        }

        let scalars = StepScalars(learningRate: lr, step: step)
        let trained = Dictionary(g.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        for (name, grad) in grads {
            guard let p = trained[name] else { continue }
            let (next, states) = try g.scope(name) {
                try options.optimizer.update(g, name: name, parameter: p, gradient: grad, scalars: scalars)
            }
            if options.optimizer.decays(name, g.type(of: p)) { decayed.append(name) }
            g.update(name, try apply.map { try g.select($0, next, p) } ?? next)
            for s in states {
                g.update(s.name, try apply.map { try g.select($0, s.new, s.old) } ?? s.new)
                stateNames.append(s.name)
            }
        }
    }
    return TrainingGraph(graph: g, gradients: result, stateParameters: stateNames, decayed: decayed, optimizerStart: optimizerStart)
}

extension Optimizer {
    /// Whether the optimizer applies weight decay to this parameter.
    public func decays(_ name: String, _ type: TensorType) -> Bool {
        switch self {
        case .adamW(let o): return o.weightDecay != 0 && o.decays(name, type)
        case .sgd(let o): return o.weightDecay != 0 && o.decays(name, type)
        }
    }
}
