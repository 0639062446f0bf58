/// Stable 64-bit FNV-1a hash of a string (parameter names seed their initializers).
public func stableHash(_ s: String) -> Int {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return Int(truncatingIfNeeded: h)
}

extension Initializer {
    /// Materializes `count` values. Deterministic in (seed, name): the same parameter gets the same numbers
    /// whatever other parameters exist.
    public func values(count: Int, seed: Int, name: String) -> [Double] {
        let key = seed ^ stableHash(name)
        func u(_ i: Int) -> Double { (Double(counterUniform(seed: key, salt: 0x1417, index: i)) + 0x1p-25) }
        func normal(_ i: Int) -> Double {
            // Box-Muller on two independent uniforms.
            let (a, b) = (u(2 * i), u(2 * i + 1))
            return (-2 * libm_log(a)).squareRoot() * libm_cos(2 * Double.pi * b)
        }
        switch self {
        case .zeros: return [Double](repeating: 0, count: count)
        case .ones: return [Double](repeating: 1, count: count)
        case .constant(let c): return [Double](repeating: c, count: count)
        case .normal(let std): return (0..<count).map { normal($0) * std }
        case .truncatedNormal(let std):
            // Resample outside two standard deviations (as timm / JAX), drawing further counters.
            return (0..<count).map { i in
                var k = 0
                while true {
                    let z = normal(i + k * count)
                    if Swift.abs(z) <= 2 { return z * std }
                    k += 1
                }
            }
        case .uniform(let lo, let hi): return (0..<count).map { lo + (hi - lo) * (u($0) - 0x1p-25) }
        }
    }
}

extension Graph {
    /// Materializes every parameter of the given roles from its initializer (zeros when it has none).
    public func initialParameters(seed: Int, roles: Set<ParameterRole> = Set(ParameterRole.allCases)) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for p in parameters where roles.contains(p.role) {
            let n = self[p.value]
            let initializer = n.attributes.initializer("init") ?? .zeros
            out[p.name] = Tensor(n.type.dtype, n.type.shape, initializer.values(count: n.type.count, seed: seed, name: p.name))
        }
        return out
    }
}
