import GraphIR

/// The rule by which graphc's outputs are compared with `transformers`' (the same rule as
/// `Tools/make_blip2_fixtures.py --compare-graphc`, stated in Tests/BLIP2Tests/Fixtures/README.md).
public enum ParityTolerance {
    /// Forward values and loss: |graphc − reference| ≤ 1e-4 · max(1, |reference|), element-wise.
    public static let forward = 1e-4
    /// Gradients: max |graphc − reference| ≤ 1e-3 · max(max |reference|, `gradientFloor`), per tensor.
    public static let gradient = 1e-3
    /// Key-bias gradients are exactly zero in exact arithmetic (softmax ignores a per-row shift); both sides hold
    /// rounding noise there, so relative comparison needs a floor.
    public static let gradientFloor = 1e-4

    /// Nil when `candidate` passes for output `key`, else the reason.
    public static func failure(key: String, reference: Tensor, candidate: Tensor) -> String? {
        guard reference.shape == candidate.shape else { return "shape \(candidate.shape), expected \(reference.shape)" }
        var worst = 0.0, worstIndex = 0, referenceMax = 0.0, failed = false
        for i in 0..<reference.count {
            let r = reference.scalars[i], d = abs(candidate.scalars[i] - r)
            if d.isNaN { return "element \(i) is \(candidate.scalars[i]), reference \(r)" }
            referenceMax = max(referenceMax, abs(r))
            if d > worst { worst = d; worstIndex = i }
            if !key.hasPrefix("grad."), d > forward * max(1, abs(r)) { failed = true }
        }
        if key.hasPrefix("grad.") {
            let bound = gradient * max(referenceMax, gradientFloor)
            return worst <= bound ? nil : "max difference \(worst) at element \(worstIndex) exceeds \(bound) (1e-3 of max |reference| \(referenceMax))"
        }
        return failed ? "max difference \(worst) at element \(worstIndex) (reference \(reference.scalars[worstIndex]), got \(candidate.scalars[worstIndex]))" : nil
    }

    /// Compares every reference output; returns one line per failing or missing tensor.
    public static func failures(reference: [String: Tensor], candidate: [String: Tensor]) -> [String] {
        reference.keys.sorted().compactMap { key in
            guard let got = candidate[key] else { return "\(key): missing" }
            return failure(key: key, reference: reference[key]!, candidate: got).map { "\(key): \($0)" }
        }
    }
}
