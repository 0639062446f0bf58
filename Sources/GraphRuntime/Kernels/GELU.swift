import GraphIR

import CRuntimeKernels

// GELU, exact (erf) and tanh-approximate: f32 through the C kernels (vector polynomials for the CPU's instruction
// set), f64 through the reference formulas.

func geluKernel(_ c: KernelContext) -> KernelSpec {
    let approximate = c.attributes.symbol("approximate") == "tanh"
    let count = c.type.count
    if c.type.dtype == .f32 {
        return approximate ? cMapKernel(rk_gelu_tanh, name: "gelu tanh", count: count) : cMapKernel(rk_gelu_erf, name: "gelu erf", count: count)
    }
    let f = approximate ? geluTanh : geluErf
    let d = c.type.dtype
    return KernelSpec("scalar gelu", inPlace: [0]) { io in
        for i in 0..<count { storeScalar(io.output, d, i, f(loadScalar(io.operands[0], d, i))) }
    }
}
