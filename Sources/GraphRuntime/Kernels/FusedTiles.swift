import CRuntimeKernels
import GraphIR

// The evaluation engine of fused kernels. A fused expression is compiled once, at lowering, into a flat list of C
// instructions over registers (`FusedProgram`). A step cuts the output into tiles of a few hundred elements; per
// tile each operand becomes one register — a pointer into the operand itself when it lines up with the output,
// otherwise the tile's values gathered (broadcast runs copied or filled) — and one C call runs every instruction
// as a vector loop over the whole tile (CRuntimeKernels, AVX-512/AVX2/SSE2 chosen at run time). So the expression
// is interpreted once per tile, every element passes through registers that stay in L1, and each operand and the
// output cross memory once.

/// An f32/f64 fused expression as straight-line register code.
struct FusedProgram {
    var code: [rk_instruction] = []
    var registers = 0
    /// Register of each operand the expression reads.
    var operandRegisters: [Int: Int] = [:]
    /// Literal registers and their values (filled once per tile buffer, never per tile).
    var literals: [(register: Int, value: Double)] = []
    var result = 0
    /// True when the last instruction computes the result, so a tile's result can be written into the output.
    var resultIsComputed: Bool { code.last.map { Int($0.dst) == result } ?? false }

    init(_ e: FusedExpression) throws {
        result = try emit(e)
    }

    private mutating func newRegister() -> Int {
        registers += 1
        return registers - 1
    }

    private mutating func emit(_ e: FusedExpression) throws -> Int {
        switch e {
        case .operand(let i):
            if let r = operandRegisters[i] { return r }
            let r = newRegister()
            operandRegisters[i] = r
            return r
        case .literal(let d):
            if let l = literals.first(where: { $0.value.bitPattern == d.bitPattern }) { return l.register }
            let r = newRegister()
            literals.append((r, d))
            return r
        case .apply(let f, let args):
            guard let op = FusedProgram.functions[f] else { throw ShapeError("expr: unknown function '\(f)'") }
            let regs = try args.map { try emit($0) }
            let r = newRegister()
            let a = Int32(regs.first ?? r)
            code.append(rk_instruction(op: Int32(op.rawValue), dst: Int32(r), a: a, b: regs.count > 1 ? Int32(regs[1]) : a,
                                       c: regs.count > 2 ? Int32(regs[2]) : a))
            return r
        }
    }

    static let functions: [String: rk_function] = [
        "neg": RK_NEG, "abs": RK_ABS, "exp": RK_EXP, "log": RK_LOG, "sqrt": RK_SQRT, "rsqrt": RK_RSQRT, "tanh": RK_TANH,
        "erf": RK_ERF, "sigmoid": RK_SIGMOID, "relu": RK_RELU, "sin": RK_SIN, "cos": RK_COS, "logical_not": RK_LOGICAL_NOT,
        "gelu": RK_GELU, "gelu_tanh": RK_GELU_TANH, "add": RK_ADD, "sub": RK_SUB, "mul": RK_MUL, "div": RK_DIV,
        "maximum": RK_MAXIMUM, "minimum": RK_MINIMUM, "pow": RK_POW, "eq": RK_EQ, "ne": RK_NE, "lt": RK_LT, "le": RK_LE,
        "gt": RK_GT, "ge": RK_GE, "logical_and": RK_LOGICAL_AND, "logical_or": RK_LOGICAL_OR, "where": RK_WHERE,
    ]
}

/// The float types a tile program runs in: f32 (vector C code) and f64 (the reference formulas, for checks).
protocol TileScalar: BinaryFloatingPoint {
    static var dtype: DType { get }
    static func evaluate(_ code: UnsafePointer<rk_instruction>, _ count: Int, _ registers: UnsafePointer<UnsafeMutablePointer<Self>?>, _ n: Int)
    /// Sum of n values (SIMD16 accumulators for f32).
    static func sum(_ p: UnsafePointer<Self>, _ n: Int) -> Self
}

extension Float: TileScalar {
    static var dtype: DType { .f32 }
    @inline(__always)
    static func evaluate(_ code: UnsafePointer<rk_instruction>, _ count: Int, _ registers: UnsafePointer<UnsafeMutablePointer<Float>?>, _ n: Int) {
        rk_fused_tile(code, count, registers, n)
    }
    @inline(__always) static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float { rowSum(p, n) }
}

extension Double: TileScalar {
    static var dtype: DType { .f64 }
    @inline(__always)
    static func evaluate(_ code: UnsafePointer<rk_instruction>, _ count: Int, _ registers: UnsafePointer<UnsafeMutablePointer<Double>?>, _ n: Int) {
        rk_fused_tile_f64(code, count, registers, n)
    }
    @inline(__always) static func sum(_ p: UnsafePointer<Double>, _ n: Int) -> Double {
        var s = 0.0
        for i in 0..<n { s += p[i] }
        return s
    }
}

/// How a tile reads one operand.
enum TileOperand {
    /// Lines up with the output in the kernel's dtype: the register points into the operand.
    case direct
    /// One value for the whole kernel: filled once.
    case splat
    /// Broadcast or another dtype: the tile's values are gathered run by run.
    case gathered
    /// Not read by the expression.
    case unused
}

/// A fused expression evaluated over the broadcast of its operands, tile by tile.
struct FusedMap {
    let expression: FusedExpression
    let program: FusedProgram
    let loop: BroadcastLoop
    let operandTypes: [DType]
    let access: [TileOperand]
    let outType: TensorType
    /// f32 unless an operand is f64 (the expression's arithmetic dtype).
    let kernelDType: DType
    let count: Int
    /// Elements per tile: every register of a tile fits in about 16 KB, so all of them stay in L1.
    let tileElements: Int

    init(_ expression: FusedExpression, operands: [TensorType], output: TensorType) throws {
        self.expression = expression
        program = try FusedProgram(expression)
        loop = BroadcastLoop(operands: operands.map(\.shape), output: output.shape)
        operandTypes = operands.map(\.dtype)
        outType = output
        let kernelDType: DType = operands.contains { $0.dtype == .f64 } || output.dtype == .f64 ? .f64 : .f32
        self.kernelDType = kernelDType
        count = output.count
        access = operands.indices.map { [program] k in
            guard program.operandRegisters[k] != nil else { return .unused }
            if operands[k].count == 1 { return .splat }
            return operands[k].count == output.count && operands[k].dtype == kernelDType ? .direct : .gathered
        }
        let perTile = 16_384 / (Swift.max(1, program.registers) * kernelDType.byteSize)
        tileElements = Swift.min(2048, Swift.max(64, perTile / 64 * 64))
    }

    /// Writes the expression's value at every output element into `out` (the output's dtype).
    func run(_ operands: [UnsafeMutableRawPointer], _ out: UnsafeMutableRawPointer, threads: Int) {
        if kernelDType == .f64 { run(Double.self, operands, out, threads: threads) } else { run(Float.self, operands, out, threads: threads) }
    }

    private func run<T: TileScalar>(_: T.Type, _ operands: [UnsafeMutableRawPointer], _ out: UnsafeMutableRawPointer, threads: Int) {
        guard count > 0 else { return }
        let width = tileElements
        let tiles = (count + width - 1) / width
        let chunks = chunkCount(items: count, costPerItem: Swift.max(1, expression.opCount), threads: threads)
        let direct = outType.dtype == T.dtype && program.resultIsComputed
        parallelChunks(chunks, threads: threads) { c in
            withTileRegisters(T.self, operands) { tile in
                for t in chunkRange(c, chunks, tiles) {
                    let start = t &* width, n = Swift.min(width, count &- start)
                    let result = tile(start, n, direct ? out.assumingMemoryBound(to: T.self) + start : nil)
                    if !direct { store(result, n, to: out, at: start) }
                }
            }
        }
    }

    /// Calls `body` with a tile evaluator that owns its registers (one set per thread): `tile(start, n, into)`
    /// evaluates output elements start..<start+n (n ≤ tileElements) and returns where the result is — `into` when
    /// given (the last instruction writes there), else a register.
    func withTileRegisters<T: TileScalar>(_: T.Type, _ operands: [UnsafeMutableRawPointer],
                                          _ body: ((Int, Int, UnsafeMutablePointer<T>?) -> UnsafePointer<T>) -> Void) {
        let width = tileElements, registers = program.registers
        withUnsafeTemporaryAllocation(of: T.self, capacity: registers * width) { storage in
            withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<T>?.self, capacity: registers) { pointers in
                let base = storage.baseAddress!, regs = pointers.baseAddress!
                base.initialize(repeating: 0, count: registers * width)
                for r in 0..<registers { regs[r] = base + r &* width }
                for l in program.literals { (base + l.register &* width).update(repeating: T(l.value), count: width) }
                for (k, r) in program.operandRegisters where access[k] == .splat {
                    (base + r &* width).update(repeating: T(loadScalar(operands[k], operandTypes[k], 0)), count: width)
                }
                program.code.withUnsafeBufferPointer { code in
                    let gathered = program.operandRegisters.filter { access[$0.key] == .gathered }.sorted { $0.key < $1.key }
                    let directs = program.operandRegisters.filter { access[$0.key] == .direct }.sorted { $0.key < $1.key }
                    let result = program.result
                    body { start, n, into in
                        for (k, r) in directs { regs[r] = operands[k].assumingMemoryBound(to: T.self) + start }
                        for (k, r) in gathered { gather(k, operands[k], start, n, into: base + r &* width) }
                        if let into { regs[result] = into }
                        T.evaluate(code.baseAddress!, code.count, regs, n)
                        let p = UnsafePointer(regs[result]!)
                        regs[result] = base + result &* width
                        return p
                    }
                }
            }
        }
    }

    /// Fills `dst` with operand k's values at output elements start..<start+n, run by run of the broadcast loop.
    @inline(__always)
    private func gather<T: TileScalar>(_ k: Int, _ src: UnsafeMutableRawPointer, _ start: Int, _ n: Int, into dst: UnsafeMutablePointer<T>) {
        let length = loop.runLength, stride = loop.innerStride[k], dtype = operandTypes[k]
        var p = start, done = 0
        while done < n {
            let run = p / length, within = p &- run &* length
            let m = Swift.min(length &- within, n &- done)
            let from = loop.offset(k, run: run) &+ within &* stride
            if stride == 0 {
                (dst + done).update(repeating: T(loadScalar(src, dtype, from)), count: m)
            } else {
                switch dtype {
                case T.dtype: (dst + done).update(from: src.assumingMemoryBound(to: T.self) + from, count: m)
                case .f32: let s = src.assumingMemoryBound(to: Float.self) + from; for i in 0..<m { dst[done &+ i] = T(s[i]) }
                case .bool: let s = src.assumingMemoryBound(to: UInt8.self) + from; for i in 0..<m { dst[done &+ i] = s[i] != 0 ? 1 : 0 }
                case .i32: let s = src.assumingMemoryBound(to: Int32.self) + from; for i in 0..<m { dst[done &+ i] = T(s[i]) }
                case .f64: let s = src.assumingMemoryBound(to: Double.self) + from; for i in 0..<m { dst[done &+ i] = T(s[i]) }
                }
            }
            done &+= m
            p &+= m
        }
    }

    /// Copies a tile result into the output, converting to its dtype.
    private func store<T: TileScalar>(_ result: UnsafePointer<T>, _ n: Int, to out: UnsafeMutableRawPointer, at start: Int) {
        switch outType.dtype {
        case T.dtype: (out.assumingMemoryBound(to: T.self) + start).update(from: result, count: n)
        case .bool: let o = out.assumingMemoryBound(to: UInt8.self) + start; for i in 0..<n { o[i] = result[i] != 0 ? 1 : 0 }
        default: for i in 0..<n { storeScalar(out, outType.dtype, start &+ i, Double(result[i])) }
        }
    }
}
