import GraphIR

// GELU, exact (erf) and tanh-approximate, as SIMD16 polynomials for f32; the reference formulas for f64.

enum GeluErfOp: UnaryF32Op {
    @inline(__always) static func apply(_ x: F16) -> F16 { 0.5 * x * (1 + verf(x * 0.707_106_78)) }
}

enum GeluTanhOp: UnaryF32Op {
    @inline(__always) static func apply(_ x: F16) -> F16 {
        0.5 * x * (1 + vtanh(0.797_884_56 * (x + 0.044_715 * x * x * x)))
    }
}

func geluKernel(_ c: KernelContext) -> KernelSpec {
    let approximate = c.attributes.symbol("approximate") == "tanh"
    let count = c.type.count
    if c.type.dtype == .f32 {
        return approximate ? unaryF32Kernel(GeluTanhOp.self, name: "gelu tanh", count: count)
                           : unaryF32Kernel(GeluErfOp.self, name: "gelu erf", count: count)
    }
    let f = approximate ? geluTanh : geluErf
    let d = c.type.dtype
    return KernelSpec("scalar gelu", inPlace: [0]) { io in
        for i in 0..<count { storeScalar(io.output, d, i, f(loadScalar(io.operands[0], d, i))) }
    }
}
