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
            // f(a ∘ b) with ∘ one of + - * / runs as one instruction: the sum never goes through a register.
            if args.count == 1, FusedProgram.takesPre.contains(f), case .apply(let g, let inner) = args[0],
               let pre = FusedProgram.preFunctions[g] {
                let a = try emit(inner[0]), b = try emit(inner[1])
                return append(op, a, b, a, pre: pre)
            }
            let regs = try args.map { try emit($0) }
            let a = regs.first ?? 0
            return append(op, a, regs.count > 1 ? regs[1] : a, regs.count > 2 ? regs[2] : a, pre: nil)
        }
    }

    private mutating func append(_ op: rk_function, _ a: Int, _ b: Int, _ c: Int, pre: rk_function?) -> Int {
        let r = newRegister()
        code.append(rk_instruction(op: Int32(op.rawValue), dst: Int32(r), a: Int32(a), b: Int32(b), c: Int32(c),
                                   pre: pre.map { Int32($0.rawValue) } ?? -1))
        return r
    }

    /// Unary functions whose vector loop can take `a ∘ b` as its argument (sin and cos run through libm instead).
    static let takesPre: Set<String> = ["neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "relu",
                                        "logical_not", "gelu", "gelu_tanh"]
    static let preFunctions: [String: rk_function] = ["add": RK_ADD, "sub": RK_SUB, "mul": RK_MUL, "div": RK_DIV]

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
    static func evaluate(_ code: UnsafePointer<rk_instruction>, _ count: Int, _ registers: UnsafePointer<UnsafeMutablePointer<Self>?>,
                         _ masks: UnsafePointer<Int>, _ n: Int)
    static func evaluateRuns(_ code: UnsafePointer<rk_instruction>, _ count: Int, _ registers: UnsafePointer<UnsafeMutablePointer<Self>?>,
                             _ masks: UnsafePointer<Int>, _ sources: UnsafePointer<UnsafeMutablePointer<Self>?>,
                             _ strides: UnsafePointer<Int>, _ registerCount: Int, _ n: Int, _ runs: Int,
                             _ totals: UnsafeMutablePointer<Self>?, _ result: Int, _ max: Bool)
    /// The sum, or the maximum when `max` (-inf for n = 0; `v >= m` replaces m, as in the reference).
    static func total(_ p: UnsafePointer<Self>, _ n: Int, max: Bool) -> Self
    /// acc[i] += p[i], or acc[i] = p[i] >= acc[i] ? p[i] : acc[i] when `max`.
    static func fold(_ p: UnsafePointer<Self>, into acc: UnsafeMutablePointer<Self>, _ n: Int, max: Bool)
}

extension Float: TileScalar {
    static var dtype: DType { .f32 }
    @inline(__always)
    static func evaluate(_ code: UnsafePointer<rk_instruction>, _ count: Int, _ registers: UnsafePointer<UnsafeMutablePointer<Float>?>,
                         _ masks: UnsafePointer<Int>, _ n: Int) {
        rk_fused_tile(code, count, registers, masks, n)
    }
    @inline(__always)
    static func evaluateRuns(_ code: UnsafePointer<rk_instruction>, _ count: Int, _ registers: UnsafePointer<UnsafeMutablePointer<Float>?>,
                             _ masks: UnsafePointer<Int>, _ sources: UnsafePointer<UnsafeMutablePointer<Float>?>,
                             _ strides: UnsafePointer<Int>, _ registerCount: Int, _ n: Int, _ runs: Int,
                             _ totals: UnsafeMutablePointer<Float>?, _ result: Int, _ max: Bool) {
        rk_fused_runs(code, count, registers, masks, sources, strides, registerCount, n, runs, totals, result, max ? 1 : 0)
    }
    @inline(__always) static func total(_ p: UnsafePointer<Float>, _ n: Int, max: Bool) -> Float { rk_total(p, n, max ? 1 : 0) }
    @inline(__always) static func fold(_ p: UnsafePointer<Float>, into acc: UnsafeMutablePointer<Float>, _ n: Int, max: Bool) {
        rk_fold(p, acc, n, max ? 1 : 0)
    }
}

extension Double: TileScalar {
    static var dtype: DType { .f64 }
    @inline(__always)
    static func evaluate(_ code: UnsafePointer<rk_instruction>, _ count: Int, _ registers: UnsafePointer<UnsafeMutablePointer<Double>?>,
                         _ masks: UnsafePointer<Int>, _ n: Int) {
        rk_fused_tile_f64(code, count, registers, masks, n)
    }
    @inline(__always)
    static func evaluateRuns(_ code: UnsafePointer<rk_instruction>, _ count: Int, _ registers: UnsafePointer<UnsafeMutablePointer<Double>?>,
                             _ masks: UnsafePointer<Int>, _ sources: UnsafePointer<UnsafeMutablePointer<Double>?>,
                             _ strides: UnsafePointer<Int>, _ registerCount: Int, _ n: Int, _ runs: Int,
                             _ totals: UnsafeMutablePointer<Double>?, _ result: Int, _ max: Bool) {
        rk_fused_runs_f64(code, count, registers, masks, sources, strides, registerCount, n, runs, totals, result, max ? 1 : 0)
    }
    static func total(_ p: UnsafePointer<Double>, _ n: Int, max: Bool) -> Double {
        var t = max ? -Double.infinity : 0
        if max { for i in 0..<n where p[i] >= t { t = p[i] } } else { for i in 0..<n { t += p[i] } }
        return t
    }
    static func fold(_ p: UnsafePointer<Double>, into acc: UnsafeMutablePointer<Double>, _ n: Int, max: Bool) {
        if max { for i in 0..<n where p[i] >= acc[i] { acc[i] = p[i] } } else { for i in 0..<n { acc[i] += p[i] } }
    }
}

/// How tiles read one operand.
enum TileOperand {
    /// Not read by the expression.
    case unused
    /// One value for the whole kernel: a 16-lane register filled once.
    case constant
    /// Lines up with the output in the kernel's dtype: the register points into the operand.
    case aligned
    /// Broadcast, or another dtype. In a tile inside one broadcast run it is a pointer (stride 1, same dtype), a
    /// 16-lane scalar (stride 0) or converted values; a tile across runs gathers its values run by run.
    case broadcast
}

/// Register element i is at `register[i & mask]`: all ones for a register of n values, 0 for a 16-lane scalar.
let vectorMask = ~0, scalarMask = 0

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
            if operands[k].count == 1 { return .constant }
            return operands[k].count == output.count && operands[k].dtype == kernelDType ? .aligned : .broadcast
        }
        let perTile = 16_384 / (Swift.max(1, program.registers) * kernelDType.byteSize)
        tileElements = Swift.min(2048, Swift.max(64, perTile / 64 * 64))
    }

    /// True when tiles lie inside broadcast runs (long runs, or a single run); short runs are grouped, whole
    /// runs per tile, and their broadcast operands gathered.
    var tilesInRuns: Bool { loop.runCount == 1 || loop.runLength >= 64 }

    /// Tiles covering the output, in order: inside runs when `tilesInRuns`, else whole runs.
    var tileCount: Int {
        if count == 0 { return 0 }
        if tilesInRuns { return loop.runCount * ((loop.runLength + tileElements - 1) / tileElements) }
        let runsPerTile = Swift.max(1, tileElements / loop.runLength)
        return (loop.runCount + runsPerTile - 1) / runsPerTile
    }

    /// The output elements of tile t.
    @inline(__always) func tile(_ t: Int) -> (start: Int, n: Int) {
        let length = loop.runLength
        if tilesInRuns {
            let perRun = (length + tileElements - 1) / tileElements
            let run = t / perRun, within = (t &- run &* perRun) &* tileElements
            return (run &* length &+ within, Swift.min(tileElements, length &- within))
        }
        let runsPerTile = Swift.max(1, tileElements / length)
        let first = t &* runsPerTile
        return (first &* length, Swift.min(runsPerTile, loop.runCount &- first) &* length)
    }

    /// Writes the expression's value at every output element into `out` (the output's dtype).
    func run(_ operands: [UnsafeMutableRawPointer], _ out: UnsafeMutableRawPointer, threads: Int) {
        if kernelDType == .f64 { run(Double.self, operands, out, threads: threads) } else { run(Float.self, operands, out, threads: threads) }
    }

    private func run<T: TileScalar>(_: T.Type, _ operands: [UnsafeMutableRawPointer], _ out: UnsafeMutableRawPointer, threads: Int) {
        let tiles = tileCount
        guard tiles > 0 else { return }
        let chunks = chunkCount(items: count, costPerItem: Swift.max(1, expression.opCount), threads: threads)
        let direct = outType.dtype == T.dtype && program.resultIsComputed
        let grouped = direct && runsInOneCall
        parallelChunks(chunks, threads: threads) { c in
            withTileRegisters(T.self, operands) { evaluate, evaluateRuns in
                if grouped {
                    // One tile per run: whole stretches of runs along the innermost outer dimension per C call.
                    let runs = chunkRange(c, chunks, loop.runCount), block = loop.outerDims.last!
                    var first = runs.lowerBound
                    while first < runs.upperBound {
                        let last = Swift.min(runs.upperBound, (first / block + 1) &* block)
                        evaluateRuns(first, last &- first, loop.runLength, out.assumingMemoryBound(to: T.self), nil, false)
                        first = last
                    }
                    return
                }
                for t in chunkRange(c, chunks, tiles) {
                    let (start, n) = tile(t)
                    let result = evaluate(start, n, direct ? out.assumingMemoryBound(to: T.self) + start : nil)
                    if !direct { store(result, n, to: out, at: start) }
                }
            }
        }
    }

    /// True when every run is one tile and every operand is read in the kernel's dtype, so consecutive runs can go
    /// to C in one call (`rk_fused_runs`): the per-tile work in Swift then happens once per stretch of runs.
    var runsInOneCall: Bool {
        loop.runCount > 1 && !loop.outerDims.isEmpty && loop.runLength >= 64 && loop.runLength <= tileElements
            && access.indices.allSatisfy { access[$0] != .broadcast || operandTypes[$0] == kernelDType }
    }

    /// Calls `body` with a tile evaluator that owns its registers (one set per thread): `tile(start, n, into)`
    /// computes output elements start..<start+n (n ≤ tileElements) and returns where the result is — `into` when
    /// given (the last instruction writes there), else a register. `runs(first, count, n, out, totals, max)`
    /// evaluates tiles of n elements starting at tile `first` in one C call: the runs of the broadcast loop
    /// (n = runLength, inside one innermost outer block), or with one run and no broadcast operands any n-element
    /// rows; results go to `out` (n per tile), or their sums (maxima) to `totals` (one per tile).
    func withTileRegisters<T: TileScalar>(_: T.Type, _ operands: [UnsafeMutableRawPointer],
                                          _ body: (_ tile: (Int, Int, UnsafeMutablePointer<T>?) -> UnsafePointer<T>,
                                                   _ runs: (Int, Int, Int, UnsafeMutablePointer<T>?, UnsafeMutablePointer<T>?, Bool) -> Void) -> Void) {
        // Registers start on cache lines (a 64-byte vector access never splits a line) and are a tile plus one line
        // apart, so two registers rarely share their address bits below 4 KB (a load after a store to such an address
        // waits for the store on x86).
        let width = tileElements &+ 64 / MemoryLayout<T>.size, registers = program.registers
        withUnsafeTemporaryAllocation(byteCount: registers * width * MemoryLayout<T>.size, alignment: 64) { raw in
            let storage = raw.bindMemory(to: T.self)
            withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<T>?.self, capacity: 2 * registers) { pointers in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * registers) { maskBuffer in
                    let base = storage.baseAddress!, regs = pointers.baseAddress!, masks = maskBuffer.baseAddress!
                    // For runs in one call: where each register starts and how far it moves per run.
                    let sources = regs + registers, strides = masks + registers
                    base.initialize(repeating: 0, count: registers * width)
                    for r in 0..<registers {
                        regs[r] = base + r &* width
                        masks[r] = vectorMask
                    }
                    for l in program.literals {
                        (base + l.register &* width).update(repeating: T(l.value), count: 16)
                        masks[l.register] = scalarMask
                    }
                    for (k, r) in program.operandRegisters where access[k] == .constant {
                        (base + r &* width).update(repeating: T(loadScalar(operands[k], operandTypes[k], 0)), count: 16)
                        masks[r] = scalarMask
                    }
                    let aligned = program.operandRegisters.filter { access[$0.key] == .aligned }.sorted { $0.key < $1.key }
                    let broadcast = program.operandRegisters.filter { access[$0.key] == .broadcast }.sorted { $0.key < $1.key }
                    let result = program.result, length = loop.runLength
                    program.code.withUnsafeBufferPointer { code in
                        body({ start, n, into in
                            for (k, r) in aligned { regs[r] = operands[k].assumingMemoryBound(to: T.self) + start }
                            let run = start / length, within = start &- run &* length
                            for (k, r) in broadcast {
                                let storage = base + r &* width
                                if within &+ n <= length {
                                    let stride = loop.innerStride[k], from = loop.offset(k, run: run) &+ within &* stride
                                    if stride == 0 {
                                        storage.update(repeating: T(loadScalar(operands[k], operandTypes[k], from)), count: 16)
                                        regs[r] = storage
                                        masks[r] = scalarMask
                                        continue
                                    }
                                    masks[r] = vectorMask
                                    if operandTypes[k] == T.dtype {
                                        regs[r] = operands[k].assumingMemoryBound(to: T.self) + from
                                        continue
                                    }
                                }
                                masks[r] = vectorMask
                                regs[r] = storage
                                gather(k, operands[k], start, n, into: storage)
                            }
                            if let into { regs[result] = into }
                            T.evaluate(code.baseAddress!, code.count, regs, masks, n)
                            let p = UnsafePointer(regs[result]!)
                            if program.resultIsComputed { regs[result] = base + result &* width }
                            if masks[result] == scalarMask {
                                // A bare broadcast operand or literal as the result: spread it over the tile.
                                let value = p[0]
                                (base + result &* width).update(repeating: value, count: n)
                                return UnsafePointer(base + result &* width)
                            }
                            return p
                        }, { first, runs, n, out, totals, max in
                            for r in 0..<registers {
                                sources[r] = regs[r]
                                strides[r] = 0
                            }
                            for (k, r) in aligned {
                                sources[r] = operands[k].assumingMemoryBound(to: T.self) + first &* n
                                strides[r] = n
                            }
                            for (k, r) in broadcast {
                                let p = operands[k].assumingMemoryBound(to: T.self) + loop.offset(k, run: first)
                                let step = loop.outerStrides[k][loop.outerDims.count - 1]
                                if loop.innerStride[k] == 0 {
                                    // A scalar per run: C fills the register before each run (or once here).
                                    regs[r] = base + r &* width
                                    masks[r] = scalarMask
                                    if step == 0 { regs[r]!.update(repeating: p[0], count: 16) }
                                } else {
                                    masks[r] = vectorMask
                                    if step == 0 { regs[r] = p }
                                }
                                sources[r] = p
                                strides[r] = step
                            }
                            if let out {
                                sources[result] = out + first &* n
                                strides[result] = n
                            }
                            T.evaluateRuns(code.baseAddress!, code.count, regs, masks, sources, strides, registers, n, runs, totals, result, max)
                        })
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
