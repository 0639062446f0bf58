/// A small deterministic random generator (SplitMix64) so every shuffle, augmentation and procedural image
/// is reproducible from a seed on every platform (Swift's `SystemRandomNumberGenerator` is not seedable).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    /// Any seed, including 0, gives a good stream.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [0, 1) from the top 53 bits (the same on every platform, unlike `Double.random(in:using:)`,
    /// whose algorithm the standard library does not promise to keep).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform integer in 0..<n (n > 0), by rejection so it is unbiased and platform-independent.
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let x = next()
            if x < limit { return Int(x % bound) }
        }
    }

    /// A derived generator for a sub-stream (e.g. one per sample index), independent of draws made here.
    public func fork(_ salt: UInt64) -> SeededGenerator {
        var g = SeededGenerator(seed: state ^ (salt &* 0xD1B5_4A32_D192_ED03))
        _ = g.next()
        return g
    }
}
