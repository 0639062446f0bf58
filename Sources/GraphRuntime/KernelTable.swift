import GraphIR

/// The kernel of every op. The switch is exhaustive on purpose: a new `OpKind` does not compile until it has
/// an executor kernel. Leaves and pure views (reshape, stop_gradient) return nil: they have no code, only storage.
func makeKernel(_ c: KernelContext) throws -> KernelSpec? {
    switch c.node.op {
    case .input, .parameter, .constant, .reshape, .stopGradient:
        return nil
    case .neg, .abs, .exp, .log, .sqrt, .rsqrt, .tanh, .erf, .sigmoid, .relu, .sin, .cos, .logicalNot, .cast:
        return try unaryKernel(c)
    case .add, .sub, .mul, .div, .maximum, .minimum, .pow, .eq, .ne, .lt, .le, .gt, .ge, .logicalAnd, .logicalOr, .where:
        return try broadcastingKernel(c)
    case .broadcastTo:
        return broadcastToKernel(c)
    case .reduceSum, .reduceMax, .reduceMean:
        return try reductionKernel(c)
    case .argmax:
        return argmaxKernel(c)
    case .transpose:
        return transposeKernel(c)
    case .slice:
        return sliceKernel(c)
    case .pad:
        return padKernel(c)
    case .concat:
        return concatKernel(c)
    case .iota:
        return iotaKernel(c)
    case .gather:
        return gatherKernel(c)
    case .scatterAdd:
        return scatterAddKernel(c)
    case .matmul:
        return try matmulKernel(c)
    case .randomUniform:
        return randomUniformKernel(c)
    case .sampleCategorical:
        return sampleCategoricalKernel(c)
    case .softmax, .logSoftmax:
        return softmaxKernel(c)
    case .layerNorm, .rmsNorm:
        return normKernel(c)
    case .gelu:
        return geluKernel(c)
    case .crossEntropy:
        return crossEntropyKernel(c)
    case .attention, .attentionProbs:
        return try attentionKernel(c)
    case .fusedElementwise:
        return try fusedElementwiseKernel(c)
    case .fusedReduce:
        return try fusedReduceKernel(c)
    case .fusedMatmul:
        return try fusedMatmulKernel(c)
    case .addLayerNorm:
        return try addLayerNormKernel(c)
    }
}

/// Ops the lowering turns into views of their operand's storage (no kernel, no copy).
func isView(_ op: OpKind) -> Bool { op == .reshape || op == .stopGradient }
