import Foundation
import GraphIR

// Fused kernels made by the `fuse` pass: fused_elementwise, fused_reduce, fused_matmul, add_layer_norm.
// An `f32` expression is compiled once, at lowering, into a tree of SIMD16 closures; a step evaluates it on
// blocks of 16 elements loaded straight from the operands (broadcast operands are splatted), so a chain of
// elementwise ops reads and writes memory once. Booleans are 0/1 inside the expression. `f64` kernels evaluate
// the expression with its reference semantics, element by element.

/// A compiled expression: operand vectors in, result vector out.
typealias VectorExpression = (UnsafePointer<F16>) -> F16

/// Lane-wise predicate as 0/1.
@inline(__always) func as01(_ m: Mask16) -> F16 { vsel(m, F16(repeating: 1), F16()) }

func compileVector(_ e: FusedExpression) -> VectorExpression {
    switch e {
    case .operand(let i): return { $0[i] }
    case .literal(let d):
        let v = F16(repeating: Float(d))
        return { _ in v }
    case .apply(let f, let args):
        let fs = args.map(compileVector)
        if fs.count == 1 {
            let a = fs[0]
            switch f {
            case "neg": return { -a($0) }
            case "abs": return { vabs(a($0)) }
            case "exp": return { vexp(a($0)) }
            case "log": return { vlog(a($0)) }
            case "sqrt": return { a($0).squareRoot() }
            case "rsqrt": return { 1 / a($0).squareRoot() }
            case "tanh": return { vtanh(a($0)) }
            case "erf": return { verf(a($0)) }
            case "sigmoid": return { vsigmoid(a($0)) }
            case "relu": return { vmax(a($0), F16()) }
            case "logical_not": return { as01(a($0) .== 0) }
            case "gelu": return { GeluErfOp.apply(a($0)) }
            case "gelu_tanh": return { GeluTanhOp.apply(a($0)) }
            default:
                // sin, cos: rare; scalar libm per lane.
                let g: (Double) -> Double = f == "sin" ? Foundation.sin : Foundation.cos
                return { o in
                    let x = a(o)
                    var r = F16()
                    for j in 0..<16 { r[j] = Float(g(Double(x[j]))) }
                    return r
                }
            }
        }
        if fs.count == 3 {
            let (c, a, b) = (fs[0], fs[1], fs[2])
            return { o in vselect(c(o), a(o), b(o)) }
        }
        let (a, b) = (fs[0], fs[1])
        switch f {
        case "add": return { a($0) + b($0) }
        case "sub": return { a($0) - b($0) }
        case "mul": return { a($0) * b($0) }
        case "div": return { a($0) / b($0) }
        case "maximum": return { MaxOp.apply(a($0), b($0)) }
        case "minimum": return { MinOp.apply(a($0), b($0)) }
        case "eq": return { as01(a($0) .== b($0)) }
        case "ne": return { as01(a($0) .!= b($0)) }
        case "lt": return { as01(a($0) .< b($0)) }
        case "le": return { as01(a($0) .<= b($0)) }
        case "gt": return { as01(a($0) .> b($0)) }
        case "ge": return { as01(a($0) .>= b($0)) }
        case "logical_and": return { as01((a($0) .!= 0) .& (b($0) .!= 0)) }
        case "logical_or": return { as01((a($0) .!= 0) .| (b($0) .!= 0)) }
        default:
            // pow: scalar libm per lane.
            return { o in
                let (x, y) = (a(o), b(o))
                var r = F16()
                for j in 0..<16 { r[j] = Float(Foundation.pow(Double(x[j]), Double(y[j]))) }
                return r
            }
        }
    }
}

/// Loads 16 (or `n` < 16) elements of an operand as floats, with stride 0 (splat) or 1.
@inline(__always)
func loadOperand(_ p: UnsafeRawPointer, _ d: DType, _ offset: Int, _ stride: Int, _ n: Int) -> F16 {
    if d == .f32 {
        let f = p.assumingMemoryBound(to: Float.self) + offset
        if stride == 0 { return F16(repeating: f[0]) }
        if n == 16 { return load16(f) }
        var v = F16()
        for j in 0..<n { v[j] = f[j] }
        return v
    }
    if stride == 0 { return F16(repeating: Float(loadScalar(p, d, offset))) }
    var v = F16()
    for j in 0..<n { v[j] = Float(loadScalar(p, d, offset &+ j)) }
    return v
}

/// Evaluates a fused expression over the broadcast of its operands into `output` (f32 or bool storage).
struct FusedMap {
    let expression: FusedExpression
    let vector: VectorExpression
    let loop: BroadcastLoop
    let operandTypes: [DType]
    let outType: TensorType
    let kernelDType: DType

    init(_ expression: FusedExpression, operands: [TensorType], output: TensorType) {
        self.expression = expression
        vector = compileVector(expression)
        loop = BroadcastLoop(operands: operands.map(\.shape), output: output.shape)
        operandTypes = operands.map(\.dtype)
        outType = output
        kernelDType = operands.map(\.dtype).first { $0.isFloat } ?? .f32
    }

    func run(_ operands: [UnsafeMutableRawPointer], _ out: UnsafeMutableRawPointer, threads: Int) {
        let k = operands.count
        if kernelDType == .f64 {
            runScalar(operands, out)
            return
        }
        let cost = Swift.max(1, expression.opCount)
        loop.forSegments(threads: threads, cost: cost) { run, start, len in
            withUnsafeTemporaryAllocation(of: F16.self, capacity: Swift.max(k, 1)) { regs in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: Swift.max(k, 1)) { offsets in
                    for i in 0..<k { offsets[i] = loop.offset(i, run: run) &+ start &* loop.innerStride[i] }
                    let base = run &* loop.runLength &+ start
                    var j = 0
                    while j < len {
                        let n = Swift.min(16, len &- j)
                        for i in 0..<k {
                            regs[i] = loadOperand(operands[i], operandTypes[i], offsets[i] &+ j &* loop.innerStride[i], loop.innerStride[i], n)
                        }
                        let r = vector(UnsafePointer(regs.baseAddress!))
                        if outType.dtype == .f32 {
                            let o = out.assumingMemoryBound(to: Float.self) + (base &+ j)
                            if n == 16 { store16(r, o) } else { for t in 0..<n { o[t] = r[t] } }
                        } else {
                            for t in 0..<n { storeScalar(out, outType.dtype, base &+ j &+ t, Double(r[t])) }
                        }
                        j &+= 16
                    }
                }
            }
        }
    }

    /// The reference evaluation (f64 kernels).
    func runScalar(_ operands: [UnsafeMutableRawPointer], _ out: UnsafeMutableRawPointer) {
        var xs = [Double](repeating: 0, count: operands.count)
        for run in 0..<loop.runCount {
            for j in 0..<loop.runLength {
                for i in operands.indices {
                    xs[i] = loadScalar(operands[i], operandTypes[i], loop.offset(i, run: run) &+ j &* loop.innerStride[i])
                }
                storeScalar(out, outType.dtype, run &* loop.runLength &+ j, expression.evaluate(xs, dtype: kernelDType))
            }
        }
    }
}

func parseExpression(_ c: KernelContext) throws -> FusedExpression {
    do { return try FusedExpression.parse(c.attributes.string("expr") ?? "") } catch let e as ShapeError {
        throw c.unsupported(e.message)
    }
}

func fusedElementwiseKernel(_ c: KernelContext) throws -> KernelSpec {
    let map = FusedMap(try parseExpression(c), operands: c.operandTypes, output: c.type)
    let inPlace = c.operandTypes.indices.filter { c.operandTypes[$0].dtype.byteSize == c.type.dtype.byteSize }
    return KernelSpec("simd16 fused \(map.expression)", inPlace: inPlace) { io in
        map.run(io.operands, io.output, threads: io.threads)
    }
}

/// The mapped values go to scratch, then the ordinary reduction kernel reduces them.
func fusedReduceKernel(_ c: KernelContext) throws -> KernelSpec {
    let e = try parseExpression(c)
    var shape: [Int] = []
    for t in c.operandTypes { shape = broadcastShapes(shape, t.shape) ?? shape }
    let mappedType = TensorType(c.type.dtype, shape)
    let map = FusedMap(e, operands: c.operandTypes, output: mappedType)
    let kind: OpKind = c.attributes.symbol("reduce") == "max" ? .reduceMax : c.attributes.symbol("reduce") == "mean" ? .reduceMean : .reduceSum
    var node = c.node
    node.op = kind
    node.attributes = c.attributes.filter { $0.key == "axes" || $0.key == "keep_dims" }
    let reduce = try reductionKernel(KernelContext(node: node, operandTypes: [mappedType], threads: c.threads))
    let mappedBytes = alignUp(mappedType.byteCount)
    return KernelSpec("simd16 fused \(e) then \(reduce.name)", scratchBytes: mappedBytes + reduce.scratchBytes) { io in
        let mapped = io.scratch!
        map.run(io.operands, mapped, threads: io.threads)
        try reduce.run(KernelIO(operands: [mapped], output: io.output, scratch: reduce.scratchBytes > 0 ? mapped + mappedBytes : nil,
                                threads: io.threads))
    }
}

/// GEMM into the output (or scratch when the epilogue changes dtype), then the epilogue in place.
func fusedMatmulKernel(_ c: KernelContext) throws -> KernelSpec {
    let e = try parseExpression(c)
    var node = c.node
    node.op = .matmul
    node.attributes = c.attributes.filter { $0.key != "expr" }
    let productType = TensorType(c.operandTypes[0].dtype, c.type.shape)
    node.type = productType
    let gemm = try matmulKernel(KernelContext(node: node, operandTypes: Array(c.operandTypes.prefix(2)), threads: c.threads))
    let map = FusedMap(e, operands: [productType] + c.operandTypes.dropFirst(2), output: c.type)
    let separate = productType.dtype != c.type.dtype
    return KernelSpec("\(gemm.name) + epilogue \(e)", scratchBytes: separate ? productType.byteCount : 0, usesBLAS: gemm.usesBLAS) { io in
        let product = separate ? io.scratch! : io.output
        try gemm.run(KernelIO(operands: Array(io.operands.prefix(2)), output: product, scratch: nil, threads: io.threads))
        // A tiled epilogue after the GEMM returned: OpenBLAS is idle by then, so the two never overlap.
        map.run([product] + io.operands.dropFirst(2), io.output, threads: io.threads)
    }
}

/// layer_norm(x + r): the sum goes to the output, then rows are normalized in place.
func addLayerNormKernel(_ c: KernelContext) throws -> KernelSpec {
    var addNode = c.node
    addNode.op = .add
    addNode.attributes = [:]
    let add = try broadcastingKernel(KernelContext(node: addNode, operandTypes: Array(c.operandTypes.prefix(2)), threads: c.threads))
    var normNode = c.node
    normNode.op = .layerNorm
    let norm = normKernel(KernelContext(node: normNode, operandTypes: [c.type] + c.operandTypes.dropFirst(2), threads: c.threads))
    let aligned = c.operandTypes[0].shape == c.type.shape && c.operandTypes[1].shape == c.type.shape
    return KernelSpec("\(add.name) + \(norm.name)", inPlace: aligned ? [0, 1] : []) { io in
        try add.run(KernelIO(operands: Array(io.operands.prefix(2)), output: io.output, scratch: nil, threads: io.threads))
        try norm.run(KernelIO(operands: [io.output] + io.operands.dropFirst(2), output: io.output, scratch: nil, threads: io.threads))
    }
}
