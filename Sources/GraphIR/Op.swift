/// TVM-style fusion classes; fusion rules are stated in terms of these, never op names.
public enum FusionClass: String, Sendable {
    /// Leaves: inputs, parameters, constants.
    case leaf
    /// Same-shape elementwise map (unary ops, casts).
    case elementwise
    /// Elementwise with broadcasting of operands (binary ops, `where`).
    case broadcast
    /// Pure data movement / indexing (reshape, transpose, slice, concat, gather, iota).
    case injective
    /// Reductions over axes.
    case reduction
    /// Ops whose output pass can absorb an elementwise epilogue (matmul).
    case outElementwiseFusable = "out_elementwise_fusable"
    /// Compound kernels handled whole (softmax, layer_norm, attention, cross_entropy, RNG).
    case opaque
}

/// The kind of an attribute value the schema expects.
public enum AttrKind: Sendable {
    case int, float, bool, ints, floats, string, symbol([String]), dtype, mask, initializer
}

public struct AttrSchema: Sendable {
    public var name: String
    public var kind: AttrKind
    public var required: Bool
    public init(_ name: String, _ kind: AttrKind, required: Bool = true) {
        self.name = name
        self.kind = kind
        self.required = required
    }
}

/// What a shape rule sees.
public struct InferContext {
    public var operands: [TensorType]
    public var attributes: Attributes
    /// The result type written by the caller, for ops whose type is not derivable (inputs, iota, RNG).
    public var declared: TensorType?

    public init(operands: [TensorType], attributes: Attributes, declared: TensorType?) {
        self.operands = operands
        self.attributes = attributes
        self.declared = declared
    }
}

/// What a VJP rule sees. Values refer to the graph being built (`graph`), which already holds the forward pass.
public struct VJPContext {
    public var graph: Graph
    /// The forward node (operands remapped into `graph`).
    public var node: Node
    /// The forward result in `graph`.
    public var result: Value
    /// The cotangent of the result.
    public var cotangent: Value
    /// Which operands need a cotangent; a rule must return nil for the others and emit nothing for them.
    public var needs: [Bool]
    public var operands: [Value] { node.operands }
    public var attributes: Attributes { node.attributes }

    public init(graph: Graph, node: Node, result: Value, cotangent: Value, needs: [Bool]) {
        self.graph = graph
        self.node = node
        self.result = result
        self.cotangent = cotangent
        self.needs = needs
    }
}

/// Every op either has a VJP rule or states why it has none.
public enum VJPRule {
    /// Returns one cotangent per operand (nil where `needs` is false or the operand is not differentiable).
    case rule((VJPContext) throws -> [Value?])
    /// Not differentiable, with the reason (integer or boolean output, sampling, a leaf).
    case notDifferentiable(String)
    /// Not yet written: the registry test fails for these.
    case missing
}

/// The single definition of an op: arity, attributes, type rule, reference semantics, VJP, fusion class,
/// FLOP estimate and text mnemonic. Everything else (parser, printer, verifier, interpreter, autodiff,
/// stats) reads these.
public struct OpSpec {
    public var mnemonic: String
    public var arity: ClosedRange<Int>
    public var attributes: [AttrSchema]
    public var fusion: FusionClass
    /// True when the result type comes from the declaration rather than the operands.
    public var declaresType: Bool
    public var inferType: (InferContext) throws -> TensorType
    /// Reference semantics on host tensors (plain loops).
    public var evaluate: ([Tensor], Node) throws -> Tensor
    public var vjp: VJPRule
    /// Floating-point operations (multiply-add counts as 2); defaults to one per result element.
    public var flops: ([TensorType], TensorType, Attributes) -> Int

    public init(_ mnemonic: String, arity: ClosedRange<Int>, attributes: [AttrSchema] = [],
                fusion: FusionClass, declaresType: Bool = false,
                inferType: @escaping (InferContext) throws -> TensorType,
                evaluate: @escaping ([Tensor], Node) throws -> Tensor,
                vjp: VJPRule,
                flops: (([TensorType], TensorType, Attributes) -> Int)? = nil) {
        self.mnemonic = mnemonic
        self.arity = arity
        self.attributes = attributes
        self.fusion = fusion
        self.declaresType = declaresType
        self.inferType = inferType
        self.evaluate = evaluate
        self.vjp = vjp
        self.flops = flops ?? { _, r, _ in r.count }
    }
}

/// The closed op set. Each case's `OpSpec` lives in `Ops/<Family>.swift`.
public enum OpKind: String, CaseIterable, Hashable, Sendable {
    // leaves
    case input, parameter, constant
    // elementwise unary
    case neg, abs, exp, log, sqrt, rsqrt, tanh, erf, sigmoid, relu, sin, cos
    case logicalNot = "logical_not"
    case cast
    case stopGradient = "stop_gradient"
    // elementwise binary with broadcasting
    case add, sub, mul, div, maximum, minimum, pow
    case eq, ne, lt, le, gt, ge
    case logicalAnd = "logical_and"
    case logicalOr = "logical_or"
    case `where`
    // reductions
    case reduceSum = "reduce_sum"
    case reduceMax = "reduce_max"
    case reduceMean = "reduce_mean"
    case argmax
    // data movement
    case reshape, transpose
    case broadcastTo = "broadcast_to"
    case slice, pad, concat
    case gather
    case scatterAdd = "scatter_add"
    case iota
    // linear algebra
    case matmul
    // randomness (counter-based: a pure function of seed, salt and element index)
    case randomUniform = "random_uniform"
    case sampleCategorical = "sample_categorical"
    // compound ops kept whole
    case softmax
    case logSoftmax = "log_softmax"
    case layerNorm = "layer_norm"
    case rmsNorm = "rms_norm"
    case gelu
    case crossEntropy = "cross_entropy"
    case attention
    case attentionProbs = "attention_probs"
    // fused kernels, made by the `fuse` pass after autodiff (Ops/Fused.swift)
    case fusedElementwise = "fused_elementwise"
    case fusedReduce = "fused_reduce"
    case fusedMatmul = "fused_matmul"
    case addLayerNorm = "add_layer_norm"

    /// The text name, e.g. `layer_norm`.
    public var mnemonic: String { rawValue }

    public init?(mnemonic: String) { self.init(rawValue: mnemonic) }

    public var spec: OpSpec { OpRegistry.specs[self]! }
}

/// All op definitions, keyed by kind. Built once from the family tables.
public enum OpRegistry {
    public static let specs: [OpKind: OpSpec] = {
        var all: [OpKind: OpSpec] = [:]
        for table in [leafOps, unaryOps, binaryOps, reductionOps, shapeOps, matmulOps, randomOps, compoundOps, fusedOps] {
            for (k, s) in table {
                precondition(all[k] == nil, "op \(k) defined twice")
                all[k] = s
            }
        }
        for k in OpKind.allCases { precondition(all[k] != nil, "op \(k) has no definition") }
        return all
    }()
}
