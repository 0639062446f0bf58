// Building blocks shared by the VJP rules of the op tables. Every rule emits its backward ops through the
// checked builder on `ctx.graph`, so a rule that builds an ill-typed graph fails with the usual builder error.

extension VJPContext {
    /// Builds the cotangent of each operand that needs one; nil (and no ops) for the others.
    func cotangents(_ make: (Int) throws -> Value?) rethrows -> [Value?] {
        try needs.indices.map { needs[$0] ? try make($0) : nil }
    }

    /// The shape of operand `i`.
    func shape(_ i: Int) -> [Int] { graph.type(of: operands[i]).shape }
}

extension Graph {
    /// Sums `x` down to `shape`, undoing numpy broadcasting: leading axes that broadcasting added and axes where
    /// `shape` has size 1 are summed, then the result is reshaped to `shape`.
    func unbroadcast(_ x: Value, to shape: [Int]) throws -> Value {
        let s = type(of: x).shape
        if s == shape { return x }
        let added = s.count - shape.count
        var axes = Array(0..<added)
        for d in 0..<shape.count where shape[d] == 1 && s[d + added] != 1 { axes.append(d + added) }
        let summed = axes.isEmpty ? x : try reduceSum(x, axes: axes)
        return type(of: summed).shape == shape ? summed : try reshape(summed, shape)
    }

    /// A scalar constant with the dtype of `like`.
    func scalar(_ v: Double, like: Value) throws -> Value {
        try constant(v, shape: [], type(of: like).dtype)
    }

    /// `x * c` for a literal `c`.
    func scaled(_ x: Value, _ c: Double) throws -> Value {
        try binary(.mul, x, scalar: c)
    }

    /// `c - x` for a literal `c`.
    func subtracted(from c: Double, _ x: Value) throws -> Value {
        try sub(scalar(c, like: x), x)
    }

    /// A boolean mask as 0/1 numbers of the dtype of `like`.
    func indicator(_ mask: Value, like: Value) throws -> Value {
        try cast(mask, to: type(of: like).dtype)
    }

    /// `where(cond, x, 0)`.
    func keepWhere(_ cond: Value, _ x: Value) throws -> Value {
        try select(cond, x, scalar(0, like: x))
    }

    /// Sum over `axis` kept as a size-1 axis (so it broadcasts back against its source).
    func sumKeeping(_ x: Value, axis: Int) throws -> Value {
        try reduceSum(x, axes: [axis], keepDims: true)
    }

    /// The cotangent of a reduction's input: `ct` (the reduced shape) reshaped to keep the reduced axes as size 1.
    func keepReducedAxes(_ ct: Value, inputShape: [Int], axes: [Int]) throws -> Value {
        let kept = reducedShape(inputShape, axes: axes, keepDims: true)
        return type(of: ct).shape == kept ? ct : try reshape(ct, kept)
    }
}
