#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Scalar libm entry points for the reference interpreter only (the runtime never calls these per element).
@inline(__always) func Foundation_erf(_ x: Double) -> Double { erf(x) }
@inline(__always) func Foundation_tanh(_ x: Double) -> Double { tanh(x) }
@inline(__always) func libm_exp(_ x: Double) -> Double { exp(x) }
@inline(__always) func libm_log(_ x: Double) -> Double { log(x) }
@inline(__always) func libm_sin(_ x: Double) -> Double { sin(x) }
@inline(__always) func libm_cos(_ x: Double) -> Double { cos(x) }
@inline(__always) func libm_pow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
