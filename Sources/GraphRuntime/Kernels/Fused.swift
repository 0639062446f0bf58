import CRuntimeKernels
import Foundation
import GraphIR

// Fused kernels made by the `fuse` pass: fused_elementwise, fused_reduce, fused_matmul, add_layer_norm.
// An `f32` expression is compiled once, at lowering, into a tree of SIMD16 closures; a step evaluates it on
// blocks of 16 elements loaded straight from the operands (broadcast operands are splatted), so a chain of
// elementwise ops reads and writes memory once. Booleans are 0/1 inside the expression. `f64` kernels evaluate
// the expression with its reference semantics, element by element.

/// Lane-wise predicate mask as 0/1 floats.
@inline(__always) func as01(_ m: Mask16) -> F16 { vsel(m, F16(repeating: 1), F16()) }

enum LogicalNotOp: UnaryF32Op { @inline(__always) static func apply(_ x: F16) -> F16 { as01(x .== 0) } }
enum EqOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { as01(a .== b) } }
enum NeOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { as01(a .!= b) } }
enum LtOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { as01(a .< b) } }
enum LeOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { as01(a .<= b) } }
enum GtOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { as01(a .> b) } }
enum GeOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { as01(a .>= b) } }
enum AndOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { as01((a .!= 0) .& (b .!= 0)) } }
enum OrOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { as01((a .!= 0) .| (b .!= 0)) } }

/// Elements per register of a tile program: large enough that one indirect call per instruction is noise, small
/// enough that all registers stay in L1.
let tileElements = 256

/// One instruction over whole registers: (a, b, c, destination, element count rounded up to 16).
typealias TileFunction = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void

func unaryTile<Op: UnaryF32Op>(_: Op.Type) -> TileFunction {
    { x, _, _, y, n in
        var i = 0
        while i < n { store16(Op.apply(load16(x + i)), y + i); i &+= 16 }
    }
}

/// A C map kernel over a register.
func cTile(_ f: @escaping @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void) -> TileFunction {
    { x, _, _, y, n in f(x, y, n) }
}

func binaryTile<Op: BinaryF32Op>(_: Op.Type) -> TileFunction {
    { a, b, _, y, n in
        var i = 0
        while i < n { store16(Op.apply(load16(a + i), load16(b + i)), y + i); i &+= 16 }
    }
}

/// Rare functions (sin, cos, pow) through libm per element.
func scalarTile(_ f: @escaping (Double, Double) -> Double) -> TileFunction {
    { a, b, _, y, n in for i in 0..<n { y[i] = Float(f(Double(a[i]), Double(b[i]))) } }
}

/// An f32 fused expression compiled to straight-line code over registers of `tileElements` floats: operand loads
/// and literals first (SSA, one register each), then one instruction per function application. Loads of
/// broadcast (stride-0) operands and literals are constant along a run and are filled once per segment.
struct TileProgram {
    enum Instruction {
        case load(operand: Int, register: Int)
        case literal(Float, register: Int)
        case apply(TileFunction, arguments: [Int], register: Int)
    }
    var instructions: [Instruction] = []
    var registers = 0
    var result = 0
    /// True when the result is computed by the last instruction (not a bare operand or literal), so full tiles
    /// can write it straight to the output.
    var resultIsApplied: Bool {
        if case .apply(_, _, let r)? = instructions.last { return r == result }
        return false
    }

    init(_ e: FusedExpression) {
        var loaded: [Int: Int] = [:]
        result = emit(e, &loaded)
    }

    mutating func emit(_ e: FusedExpression, _ loaded: inout [Int: Int]) -> Int {
        switch e {
        case .operand(let i):
            if let r = loaded[i] { return r }
            registers += 1
            instructions.append(.load(operand: i, register: registers - 1))
            loaded[i] = registers - 1
            return registers - 1
        case .literal(let d):
            registers += 1
            instructions.append(.literal(Float(d), register: registers - 1))
            return registers - 1
        case .apply(let f, let args):
            let regs = args.map { emit($0, &loaded) }
            registers += 1
            instructions.append(.apply(TileProgram.function(f), arguments: regs, register: registers - 1))
            return registers - 1
        }
    }

    static func function(_ f: String) -> TileFunction {
        switch f {
        case "neg": return unaryTile(NegOp.self)
        case "abs": return unaryTile(AbsOp.self)
        case "exp": return cTile(rk_exp)
        case "log": return unaryTile(LogOp.self)
        case "sqrt": return unaryTile(SqrtOp.self)
        case "rsqrt": return unaryTile(RsqrtOp.self)
        case "tanh": return cTile(rk_tanh)
        case "erf": return cTile(rk_erf)
        case "sigmoid": return cTile(rk_sigmoid)
        case "relu": return unaryTile(ReluOp.self)
        case "logical_not": return unaryTile(LogicalNotOp.self)
        case "gelu": return cTile(rk_gelu_erf)
        case "gelu_tanh": return cTile(rk_gelu_tanh)
        case "sin": return scalarTile { x, _ in Foundation.sin(x) }
        case "cos": return scalarTile { x, _ in Foundation.cos(x) }
        case "add": return binaryTile(AddOp.self)
        case "sub": return binaryTile(SubOp.self)
        case "mul": return binaryTile(MulOp.self)
        case "div": return binaryTile(DivOp.self)
        case "maximum": return binaryTile(MaxOp.self)
        case "minimum": return binaryTile(MinOp.self)
        case "eq": return binaryTile(EqOp.self)
        case "ne": return binaryTile(NeOp.self)
        case "lt": return binaryTile(LtOp.self)
        case "le": return binaryTile(LeOp.self)
        case "gt": return binaryTile(GtOp.self)
        case "ge": return binaryTile(GeOp.self)
        case "logical_and": return binaryTile(AndOp.self)
        case "logical_or": return binaryTile(OrOp.self)
        case "pow": return scalarTile { Foundation.pow($0, $1) }
        default:
            // where(c, a, b)
            return { c, a, b, y, n in
                var i = 0
                while i < n { store16(vselect(load16(c + i), load16(a + i), load16(b + i)), y + i); i &+= 16 }
            }
        }
    }
}

/// Evaluates a fused expression over the broadcast of its operands into `output` (f32 or bool storage).
struct FusedMap {
    let expression: FusedExpression
    let program: TileProgram
    let loop: BroadcastLoop
    let operandTypes: [DType]
    let outType: TensorType
    let kernelDType: DType

    init(_ expression: FusedExpression, operands: [TensorType], output: TensorType) {
        self.expression = expression
        program = TileProgram(expression)
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
        let program = self.program
        let width = tileElements
        loop.forSegments(threads: threads, cost: cost) { run, start, len in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: program.registers * width) { regs in
                let base = regs.baseAddress!
                base.initialize(repeating: 0, count: program.registers * width)
                @inline(__always) func register(_ r: Int) -> UnsafeMutablePointer<Float> { base + r &* width }
                // Constant along the run: broadcast operands and literals.
                for ins in program.instructions {
                    switch ins {
                    case .literal(let v, let r): register(r).update(repeating: v, count: width)
                    case .load(let i, let r) where loop.innerStride[i] == 0:
                        register(r).update(repeating: Float(loadScalar(operands[i], operandTypes[i], loop.offset(i, run: run))), count: width)
                    default: break
                    }
                }
                let outBase = run &* loop.runLength &+ start
                let directOut = outType.dtype == .f32 && program.resultIsApplied
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: program.registers) { source in
                    var j = 0
                    while j < len {
                        let n = Swift.min(width, len &- j), rounded = (n &+ 15) & ~15
                        // Full tiles read f32 operands where they are and write the result straight to the output;
                        // a partial tile goes through registers so no SIMD loop touches memory past its end.
                        let full = n == rounded
                        for r in 0..<program.registers { source[r] = UnsafePointer(register(r)) }
                        for ins in program.instructions {
                            switch ins {
                            case .load(let i, let r) where loop.innerStride[i] != 0:
                                let from = loop.offset(i, run: run) &+ start &+ j
                                if operandTypes[i] == .f32 {
                                    let p = UnsafePointer(operands[i].assumingMemoryBound(to: Float.self) + from)
                                    if full { source[r] = p } else { register(r).update(from: p, count: n) }
                                } else {
                                    for t in 0..<n { register(r)[t] = Float(loadScalar(operands[i], operandTypes[i], from &+ t)) }
                                }
                            case .apply(let f, let args, let r):
                                let a = source[args[0]]
                                let b = args.count > 1 ? source[args[1]] : a
                                let c = args.count > 2 ? source[args[2]] : a
                                let destination = full && directOut && r == program.result
                                    ? out.assumingMemoryBound(to: Float.self) + (outBase &+ j) : register(r)
                                f(a, b, c, destination, rounded)
                            default: break
                            }
                        }
                        if !(full && directOut) {
                            let result = source[program.result]
                            if outType.dtype == .f32 {
                                (out.assumingMemoryBound(to: Float.self) + (outBase &+ j)).update(from: result, count: n)
                            } else {
                                for t in 0..<n { storeScalar(out, outType.dtype, outBase &+ j &+ t, Double(result[t])) }
                            }
                        }
                        j &+= width
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
