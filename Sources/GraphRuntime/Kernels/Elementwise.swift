import CRuntimeKernels
import Foundation
import GraphIR

// Elementwise kernels: unary maps, casts, binary ops with broadcasting, comparisons, logical ops, `where`,
// `broadcast_to`. `f32` arithmetic runs as SIMD16 loops; every other dtype and the rare ops (sin, cos, pow)
// run through a scalar loop over `Double` that applies the interpreter's conversion rules.

protocol UnaryF32Op { static func apply(_ x: F16) -> F16 }
enum NegOp: UnaryF32Op { @inline(__always) static func apply(_ x: F16) -> F16 { -x } }
enum AbsOp: UnaryF32Op { @inline(__always) static func apply(_ x: F16) -> F16 { vabs(x) } }
enum LogOp: UnaryF32Op { @inline(__always) static func apply(_ x: F16) -> F16 { vlog(x) } }
enum SqrtOp: UnaryF32Op { @inline(__always) static func apply(_ x: F16) -> F16 { x.squareRoot() } }
enum RsqrtOp: UnaryF32Op { @inline(__always) static func apply(_ x: F16) -> F16 { 1 / x.squareRoot() } }
enum ReluOp: UnaryF32Op { @inline(__always) static func apply(_ x: F16) -> F16 { vmax(x, F16()) } }

/// y[i] = Op(x[i]) for n elements; the tail runs through the same SIMD code on a partial vector.
@inline(__always)
func unaryRun<Op: UnaryF32Op>(_: Op.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i &+ 16 <= n {
        store16(Op.apply(load16(x + i)), y + i)
        i &+= 16
    }
    if i < n {
        var t = F16()
        for j in 0..<(n &- i) { t[j] = x[i &+ j] }
        let r = Op.apply(t)
        for j in 0..<(n &- i) { y[i &+ j] = r[j] }
    }
}

func unaryF32Kernel<Op: UnaryF32Op>(_ op: Op.Type, name: String, count: Int) -> KernelSpec {
    KernelSpec("simd16 \(name)", inPlace: [0]) { io in
        let (x, y) = (UnsafePointer(io.f32(0)), io.outF32)
        let chunks = chunkCount(items: count, costPerItem: 4, threads: io.threads)
        parallelChunks(chunks, threads: io.threads) { c in
            let r = chunkRange(c, chunks, count / 16)
            let lo = r.lowerBound * 16, hi = c == chunks - 1 ? count : r.upperBound * 16
            unaryRun(op, x + lo, y + lo, hi - lo)
        }
    }
}

/// An f32 map implemented in CRuntimeKernels (exp, tanh, erf, sigmoid, GELU), tiled over threads.
func cMapKernel(_ f: @escaping @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void,
                name: String, count: Int) -> KernelSpec {
    KernelSpec("\(cKernelISA) \(name)", inPlace: [0]) { io in
        let (x, y) = (UnsafePointer(io.f32(0)), io.outF32)
        let chunks = chunkCount(items: count, costPerItem: 4, threads: io.threads)
        parallelChunks(chunks, threads: io.threads) { c in
            let r = chunkRange(c, chunks, count / 16)
            let lo = r.lowerBound * 16, hi = c == chunks - 1 ? count : r.upperBound * 16
            f(x + lo, y + lo, hi - lo)
        }
    }
}

/// The instruction set CRuntimeKernels chose on this CPU, as shown in plans.
let cKernelISA: String = ["c sse2", "c avx2", "c avx512"][Int(rk_isa())]

/// Reference formulas on `Double` (the same as the op definitions), for non-f32 dtypes and rare ops.
func scalarUnary(_ op: OpKind) -> (Double) -> Double {
    switch op {
    case .neg: return { -$0 }
    case .abs: return { Swift.abs($0) }
    case .exp: return { Foundation.exp($0) }
    case .log: return { Foundation.log($0) }
    case .sqrt: return { $0.squareRoot() }
    case .rsqrt: return { 1 / $0.squareRoot() }
    case .tanh: return { Foundation.tanh($0) }
    case .erf: return { Foundation.erf($0) }
    case .sigmoid: return { 1 / (1 + Foundation.exp(-$0)) }
    case .relu: return { Swift.max($0, 0) }
    case .sin: return { Foundation.sin($0) }
    case .cos: return { Foundation.cos($0) }
    case .logicalNot: return { $0 == 0 ? 1 : 0 }
    default: return { $0 }
    }
}

func unaryKernel(_ c: KernelContext) throws -> KernelSpec {
    let op = c.node.op
    let count = c.type.count
    if c.type.dtype == .f32 && c.operandTypes[0].dtype == .f32 {
        switch op {
        case .neg: return unaryF32Kernel(NegOp.self, name: "neg", count: count)
        case .abs: return unaryF32Kernel(AbsOp.self, name: "abs", count: count)
        case .exp: return cMapKernel(rk_exp, name: "exp", count: count)
        case .log: return unaryF32Kernel(LogOp.self, name: "log", count: count)
        case .sqrt: return unaryF32Kernel(SqrtOp.self, name: "sqrt", count: count)
        case .rsqrt: return unaryF32Kernel(RsqrtOp.self, name: "rsqrt", count: count)
        case .tanh: return cMapKernel(rk_tanh, name: "tanh", count: count)
        case .erf: return cMapKernel(rk_erf, name: "erf", count: count)
        case .sigmoid: return cMapKernel(rk_sigmoid, name: "sigmoid", count: count)
        case .relu: return unaryF32Kernel(ReluOp.self, name: "relu", count: count)
        default: break
        }
    }
    let f = scalarUnary(op)
    let (din, dout) = (c.operandTypes[0].dtype, c.type.dtype)
    return KernelSpec("scalar \(op.mnemonic)", inPlace: din.byteSize == dout.byteSize ? [0] : []) { io in
        let (x, y) = (io.operands[0], io.output)
        for i in 0..<count { storeScalar(y, dout, i, f(loadScalar(x, din, i))) }
    }
}

protocol BinaryF32Op { static func apply(_ a: F16, _ b: F16) -> F16 }
enum AddOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { a + b } }
enum SubOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { a - b } }
enum MulOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { a * b } }
enum DivOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { a / b } }
/// Same NaN behaviour as `Swift.max(a, b)` (`b >= a ? b : a`), which the reference uses.
enum MaxOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { vmax(a, b) } }
/// Same as `Swift.min(a, b)` (`b < a ? b : a`).
enum MinOp: BinaryF32Op { @inline(__always) static func apply(_ a: F16, _ b: F16) -> F16 { vmin(a, b) } }

/// y[i] = Op(a[i·sa], b[i·sb]) with strides 0 or 1.
@inline(__always)
func binaryRun<Op: BinaryF32Op>(_: Op.Type, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                                _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    if sa == 1 && sb == 1 {
        while i &+ 16 <= n { store16(Op.apply(load16(a + i), load16(b + i)), y + i); i &+= 16 }
    } else if sa == 1 {
        let bv = F16(repeating: b[0])
        while i &+ 16 <= n { store16(Op.apply(load16(a + i), bv), y + i); i &+= 16 }
    } else if sb == 1 {
        let av = F16(repeating: a[0])
        while i &+ 16 <= n { store16(Op.apply(av, load16(b + i)), y + i); i &+= 16 }
    }
    if i < n {
        var ta = F16(), tb = F16()
        for j in 0..<Swift.min(16, n &- i) { ta[j] = a[(i &+ j) &* sa]; tb[j] = b[(i &+ j) &* sb] }
        if sa == 0 && sb == 0 {
            // Both broadcast along the run: one value fills it.
            let v = Op.apply(ta, tb)[0]
            for j in i..<n { y[j] = v }
            return
        }
        let r = Op.apply(ta, tb)
        for j in 0..<(n &- i) { y[i &+ j] = r[j] }
    }
}

func binaryF32Kernel<Op: BinaryF32Op>(_ op: Op.Type, name: String, loop: BroadcastLoop) -> KernelSpec {
    KernelSpec("simd16 \(name)", inPlace: [0, 1]) { io in
        let (a, b, y) = (UnsafePointer(io.f32(0)), UnsafePointer(io.f32(1)), io.outF32)
        let (sa, sb) = (loop.innerStride[0], loop.innerStride[1])
        loop.forSegments(threads: io.threads) { run, start, len in
            binaryRun(op, a + loop.offset(0, run: run) + start &* sa, sa, b + loop.offset(1, run: run) + start &* sb, sb,
                      y + run &* loop.runLength + start, len)
        }
    }
}

func scalarBinary(_ op: OpKind) -> (Double, Double) -> Double {
    switch op {
    case .add: return (+)
    case .sub: return (-)
    case .mul: return (*)
    case .div: return (/)
    case .maximum: return { Swift.max($0, $1) }
    case .minimum: return { Swift.min($0, $1) }
    case .pow: return { Foundation.pow($0, $1) }
    case .eq: return { $0 == $1 ? 1 : 0 }
    case .ne: return { $0 != $1 ? 1 : 0 }
    case .lt: return { $0 < $1 ? 1 : 0 }
    case .le: return { $0 <= $1 ? 1 : 0 }
    case .gt: return { $0 > $1 ? 1 : 0 }
    case .ge: return { $0 >= $1 ? 1 : 0 }
    case .logicalAnd: return { $0 != 0 && $1 != 0 ? 1 : 0 }
    case .logicalOr: return { $0 != 0 || $1 != 0 ? 1 : 0 }
    default: return { a, _ in a }
    }
}

/// Binary ops and `where` (three operands) over broadcast shapes.
func broadcastingKernel(_ c: KernelContext) throws -> KernelSpec {
    let loop = BroadcastLoop(operands: c.operandTypes.map(\.shape), output: c.type.shape)
    let op = c.node.op
    let allF32 = c.operandTypes.allSatisfy { $0.dtype == .f32 } && c.type.dtype == .f32
    if allF32 {
        switch op {
        case .add: return binaryF32Kernel(AddOp.self, name: "add", loop: loop)
        case .sub: return binaryF32Kernel(SubOp.self, name: "sub", loop: loop)
        case .mul: return binaryF32Kernel(MulOp.self, name: "mul", loop: loop)
        case .div: return binaryF32Kernel(DivOp.self, name: "div", loop: loop)
        case .maximum: return binaryF32Kernel(MaxOp.self, name: "maximum", loop: loop)
        case .minimum: return binaryF32Kernel(MinOp.self, name: "minimum", loop: loop)
        default: break
        }
    }
    if op == .where {
        let d = c.type.dtype
        let sameSize = c.operandTypes[0].dtype.byteSize == d.byteSize
        if d == .f32 { return selectF32Kernel(loop, inPlace: sameSize ? [0, 1, 2] : [1, 2]) }
        return KernelSpec("scalar where", inPlace: sameSize ? [0, 1, 2] : [1, 2]) { io in
            let (cond, a, b, y) = (io.operands[0].assumingMemoryBound(to: UInt8.self), io.operands[1], io.operands[2], io.output)
            let (sc, sa, sb) = (loop.innerStride[0], loop.innerStride[1], loop.innerStride[2])
            loop.forSegments(threads: io.threads) { run, start, len in
                let (oc, oa, ob) = (loop.offset(0, run: run) &+ start &* sc, loop.offset(1, run: run) &+ start &* sa,
                                    loop.offset(2, run: run) &+ start &* sb)
                let oy = run &* loop.runLength &+ start
                for i in 0..<len {
                    let v = cond[oc &+ i &* sc] != 0 ? loadScalar(a, d, oa &+ i &* sa) : loadScalar(b, d, ob &+ i &* sb)
                    storeScalar(y, d, oy &+ i, v)
                }
            }
        }
    }
    if c.operandTypes.allSatisfy({ $0.dtype == .f32 }), c.type.dtype == .bool {
        switch op {
        case .eq: return compareF32Kernel(EqCompare.self, name: "eq", loop: loop)
        case .ne: return compareF32Kernel(NeCompare.self, name: "ne", loop: loop)
        case .lt: return compareF32Kernel(LtCompare.self, name: "lt", loop: loop)
        case .le: return compareF32Kernel(LeCompare.self, name: "le", loop: loop)
        case .gt: return compareF32Kernel(GtCompare.self, name: "gt", loop: loop)
        case .ge: return compareF32Kernel(GeCompare.self, name: "ge", loop: loop)
        default: break
        }
    }
    let f = scalarBinary(op)
    let (da, db, dy) = (c.operandTypes[0].dtype, c.operandTypes[1].dtype, c.type.dtype)
    let inPlace = [0, 1].filter { c.operandTypes[$0].dtype.byteSize == dy.byteSize }
    return KernelSpec("scalar \(op.mnemonic)", inPlace: inPlace) { io in
        let (a, b, y) = (io.operands[0], io.operands[1], io.output)
        let (sa, sb) = (loop.innerStride[0], loop.innerStride[1])
        loop.forSegments(threads: io.threads, cost: 8) { run, start, len in
            let (oa, ob, oy) = (loop.offset(0, run: run) &+ start &* sa, loop.offset(1, run: run) &+ start &* sb, run &* loop.runLength &+ start)
            for i in 0..<len {
                storeScalar(y, dy, oy &+ i, f(loadScalar(a, da, oa &+ i &* sa), loadScalar(b, db, ob &+ i &* sb)))
            }
        }
    }
}

// f32 comparisons into `bool` bytes and f32 `where`: loops specialised on the run strides (1 or 0, i.e.
// contiguous or broadcast along the run) so the compiler vectorizes them; dropout is a comparison and a select.
protocol CompareF32Op { static func apply(_ a: Float, _ b: Float) -> Bool }
enum EqCompare: CompareF32Op { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Bool { a == b } }
enum NeCompare: CompareF32Op { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Bool { a != b } }
enum LtCompare: CompareF32Op { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Bool { a < b } }
enum LeCompare: CompareF32Op { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Bool { a <= b } }
enum GtCompare: CompareF32Op { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Bool { a > b } }
enum GeCompare: CompareF32Op { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Bool { a >= b } }

@inline(__always)
func compareRun<Op: CompareF32Op>(_: Op.Type, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                                  _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
    if sa == 1 && sb == 1 {
        for i in 0..<n { y[i] = Op.apply(a[i], b[i]) ? 1 : 0 }
    } else if sa == 1 {
        let bv = b[0]
        for i in 0..<n { y[i] = Op.apply(a[i], bv) ? 1 : 0 }
    } else if sb == 1 {
        let av = a[0]
        for i in 0..<n { y[i] = Op.apply(av, b[i]) ? 1 : 0 }
    } else {
        let v: UInt8 = Op.apply(a[0], b[0]) ? 1 : 0
        for i in 0..<n { y[i] = v }
    }
}

func compareF32Kernel<Op: CompareF32Op>(_ op: Op.Type, name: String, loop: BroadcastLoop) -> KernelSpec {
    KernelSpec("simd \(name) f32") { io in
        let (a, b, y) = (UnsafePointer(io.f32(0)), UnsafePointer(io.f32(1)), io.output.assumingMemoryBound(to: UInt8.self))
        let (sa, sb) = (loop.innerStride[0], loop.innerStride[1])
        loop.forSegments(threads: io.threads) { run, start, len in
            compareRun(op, a + loop.offset(0, run: run) + start &* sa, sa, b + loop.offset(1, run: run) + start &* sb, sb,
                       y + run &* loop.runLength + start, len)
        }
    }
}

/// y[i] = c[i·sc] != 0 ? a[i·sa] : b[i·sb] with strides 0 or 1; a branch-free blend in the contiguous cases.
@inline(__always)
func selectRun(_ c: UnsafePointer<UInt8>, _ sc: Int, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
               _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    if sc == 1 && sa == 1 && sb == 1 {
        for i in 0..<n { y[i] = c[i] != 0 ? a[i] : b[i] }
    } else if sc == 1 && sa == 1 && sb == 0 {
        let bv = b[0]
        for i in 0..<n { y[i] = c[i] != 0 ? a[i] : bv }
    } else if sc == 1 && sa == 0 && sb == 1 {
        let av = a[0]
        for i in 0..<n { y[i] = c[i] != 0 ? av : b[i] }
    } else {
        for i in 0..<n { y[i] = c[i &* sc] != 0 ? a[i &* sa] : b[i &* sb] }
    }
}

func selectF32Kernel(_ loop: BroadcastLoop, inPlace: [Int]) -> KernelSpec {
    KernelSpec("simd select f32", inPlace: inPlace) { io in
        let c = UnsafePointer(io.operands[0].assumingMemoryBound(to: UInt8.self))
        let (a, b, y) = (UnsafePointer(io.f32(1)), UnsafePointer(io.f32(2)), io.outF32)
        let (sc, sa, sb) = (loop.innerStride[0], loop.innerStride[1], loop.innerStride[2])
        loop.forSegments(threads: io.threads) { run, start, len in
            selectRun(c + loop.offset(0, run: run) + start &* sc, sc, a + loop.offset(1, run: run) + start &* sa, sa,
                      b + loop.offset(2, run: run) + start &* sb, sb, y + run &* loop.runLength + start, len)
        }
    }
}

/// `broadcast_to`: a copy through the broadcast loop (one run per output row).
func broadcastToKernel(_ c: KernelContext) -> KernelSpec {
    let loop = BroadcastLoop(operands: [c.operandTypes[0].shape], output: c.type.shape)
    let size = c.type.dtype.byteSize
    return KernelSpec("broadcast copy") { io in
        let (x, y) = (io.operands[0], io.output)
        let s = loop.innerStride[0]
        loop.forSegments(threads: io.threads) { run, start, len in
            let src = x + (loop.offset(0, run: run) &+ start &* s) &* size
            let dst = y + (run &* loop.runLength &+ start) &* size
            if s == 1 {
                dst.copyMemory(from: src, byteCount: len &* size)
            } else {
                for i in 0..<len { (dst + i &* size).copyMemory(from: src, byteCount: size) }
            }
        }
    }
}
