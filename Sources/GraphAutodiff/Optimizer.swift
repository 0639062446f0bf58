import Foundation
import GraphIR

/// Whether a parameter gets weight decay. The default decays matrices and larger tensors only: biases, norm
/// scales and shifts and every other 1-D parameter are excluded, as are names with a `norm` or `bias` component.
public typealias DecayMask = (_ name: String, _ type: TensorType) -> Bool

public func defaultDecayMask(name: String, type: TensorType) -> Bool {
    let parts = name.lowercased().split(whereSeparator: { $0 == "." || $0 == "_" || $0 == "/" })
    return type.rank >= 2 && !parts.contains { $0.contains("norm") || $0 == "bias" || $0 == "ln" }
}

/// AdamW (Loshchilov & Hutter) as PyTorch's `torch.optim.AdamW`: decoupled weight decay, bias correction.
public struct AdamW {
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    public var decays: DecayMask

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0.01,
                decays: @escaping DecayMask = defaultDecayMask) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decays = decays
    }
}

/// SGD as PyTorch's `torch.optim.SGD` (dampening 0, not Nesterov): weight decay is added to the gradient, and
/// with momentum the step follows the buffer b ← μ·b + g.
public struct SGD {
    public var momentum: Double
    public var weightDecay: Double
    public var decays: DecayMask

    public init(momentum: Double = 0, weightDecay: Double = 0, decays: @escaping DecayMask = defaultDecayMask) {
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.decays = decays
    }
}

public enum Optimizer {
    case adamW(AdamW)
    case sgd(SGD)
}

/// One state tensor of an optimizer: its parameter name, its value before and after this step.
struct OptimizerState {
    let name: String
    let old: Value
    let new: Value
}

/// The per-step scalars every update reads.
struct StepScalars {
    let learningRate: Value
    /// The 1-based optimizer step as a float (bias correction).
    let step: Value
}

extension Optimizer {
    /// Emits the update of one parameter and returns the new parameter and each state's (name, old, new) value.
    /// New state parameters are created with role `state` and zero initializers.
    func update(_ g: Graph, name: String, parameter p: Value, gradient grad: Value,
                scalars: StepScalars) throws -> (parameter: Value, state: [OptimizerState]) {
        let type = g.type(of: p)
        func state(_ prefix: String) throws -> (name: String, value: Value) {
            let stateName = "\(prefix).\(name)"
            return (stateName, try g.parameter(stateName, type.shape, role: .state, initializer: .zeros, type.dtype))
        }
        // The step scalars have the loss dtype; a parameter of another float dtype reads them converted.
        let lr = try g.converted(scalars.learningRate, to: type.dtype)
        let step = try g.converted(scalars.step, to: type.dtype)
        switch self {
        case .adamW(let o):
            let (mName, m) = try state("adam.m"), (vName, v) = try state("adam.v")
            let m1 = try g.add(g.scaled(m, o.beta1), g.scaled(grad, 1 - o.beta1))
            let v1 = try g.add(g.scaled(v, o.beta2), g.scaled(g.mul(grad, grad), 1 - o.beta2))
            let correction1 = try g.subtracted(from: 1, g.pow(g.scalar(o.beta1, like: p), step))
            let correction2 = try g.subtracted(from: 1, g.pow(g.scalar(o.beta2, like: p), step))
            let denominator = try g.binary(.add, g.sqrt(g.div(v1, correction2)), scalar: o.epsilon)
            let stepSize = try g.div(lr, correction1)
            var decayed = p
            if o.weightDecay != 0 && o.decays(name, type) {
                decayed = try g.mul(p, g.subtracted(from: 1, g.scaled(lr, o.weightDecay)))
            }
            let next = try g.sub(decayed, g.mul(stepSize, g.div(m1, denominator)))
            return (next, [OptimizerState(name: mName, old: m, new: m1), OptimizerState(name: vName, old: v, new: v1)])
        case .sgd(let o):
            var d = grad
            if o.weightDecay != 0 && o.decays(name, type) { d = try g.add(d, g.scaled(p, o.weightDecay)) }
            var states: [OptimizerState] = []
            if o.momentum != 0 {
                let (bName, buffer) = try state("sgd.momentum")
                d = try g.add(g.scaled(buffer, o.momentum), d)
                states.append(OptimizerState(name: bName, old: buffer, new: d))
            }
            return (try g.sub(p, g.mul(lr, d)), states)
        }
    }
}

extension Graph {
    fileprivate func scaled(_ x: Value, _ c: Double) throws -> Value { try binary(.mul, x, scalar: c) }
    fileprivate func scalar(_ c: Double, like x: Value) throws -> Value { try constant(c, shape: [], type(of: x).dtype) }
    fileprivate func subtracted(from c: Double, _ x: Value) throws -> Value { try sub(scalar(c, like: x), x) }
    fileprivate func pow(_ a: Value, _ b: Value) throws -> Value { try binary(.pow, a, b) }
    /// `x` as `dtype` (no op when it already is).
    func converted(_ x: Value, to dtype: DType) throws -> Value { type(of: x).dtype == dtype ? x : try cast(x, to: dtype) }
}

/// Linear warmup then cosine decay, as used with AdamW for transformers. `step` is the 1-based optimizer step
/// (the value fed to the training graph's `step` input): the rate rises linearly to `baseRate` at
/// `warmupSteps`, then follows half a cosine down to `minRate` at `totalSteps` and stays there.
public struct WarmupCosineSchedule: Sendable {
    public var baseRate: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minRate: Double

    public init(baseRate: Double, warmupSteps: Int, totalSteps: Int, minRate: Double = 0) {
        self.baseRate = baseRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minRate = minRate
    }

    public func rate(atStep step: Int) -> Double {
        if step < warmupSteps { return baseRate * Double(max(step, 0)) / Double(warmupSteps) }
        let span = max(totalSteps - warmupSteps, 1)
        let progress = min(max(Double(step - warmupSteps) / Double(span), 0), 1)
        return minRate + (baseRate - minRate) * 0.5 * (1 + cos(Double.pi * progress))
    }
}
