#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphIR

/// Rotary position embedding. The two published layouts pair dimensions differently:
/// Hugging Face LLaMA rotates the two halves of each head (`rotate_half`), the original GPT-J / Meta layout
/// rotates adjacent pairs (0,1), (2,3), … A checkpoint converted for one layout is wrong under the other.
public struct RotaryEmbedding: Sendable, Equatable {
    public enum Pairing: String, Sendable { case halfRotation, adjacentPairs }

    /// Number of leading head dimensions rotated (the head size for LLaMA).
    public var dim: Int
    public var base: Double
    public var pairing: Pairing

    public init(dim: Int, base: Double = 10_000, pairing: Pairing = .halfRotation) {
        self.dim = dim
        self.base = base
        self.pairing = pairing
    }

    /// Frequencies `base^(-2i/dim)`, i = 0 ..< dim/2.
    public var inverseFrequencies: [Double] {
        (0..<(dim / 2)).map { 1 / pow(base, Double(2 * $0) / Double(dim)) }
    }

    /// Rotates `x` `[B, H, L, D]` (D == dim) at `positions` `i32[L]` (shared by the batch) or `i32[B, L]`
    /// (per row, e.g. left-padded batches).
    public func apply(_ g: Graph, _ x: Value, positions: Value, file: String = #fileID, line: Int = #line) throws -> Value {
        let s = g.type(of: x).shape
        guard s.count == 4, s[3] == dim, dim % 2 == 0 else {
            throw GraphError(.build, "\(SourceLocation(file: file, line: line)): rotary in scope '\(g.currentScope)': expected [B, H, L, \(dim)] with even dim, got \(s)")
        }
        let l = s[2]
        let perRow = g.type(of: positions).rank == 2
        let pos = try g.reshape(g.cast(positions, to: g.type(of: x).dtype, file: file, line: line), perRow ? [s[0], 1, l, 1] : [l, 1],
                                file: file, line: line)
        // Per-dimension frequency in the layout's order: halves repeat [f0..fn, f0..fn], pairs repeat f0 f0 f1 f1 …
        let freqs = inverseFrequencies
        let laid = pairing == .halfRotation ? freqs + freqs : freqs.flatMap { [$0, $0] }
        let f = try g.constant(Tensor(g.type(of: x).dtype, [1, dim], laid), file: file, line: line)
        let angles = try g.mul(pos, f, file: file, line: line)                   // [L, D] or [B, 1, L, D]
        let cos = try g.unary(.cos, angles, file: file, line: line)
        let sin = try g.unary(.sin, angles, file: file, line: line)
        let rotated = try rotate(g, x, file: file, line: line)
        return try g.add(g.mul(x, cos, file: file, line: line), g.mul(rotated, sin, file: file, line: line), file: file, line: line)
    }

    /// The partner of each dimension with the sign of the rotation: `[-x2, x1]` for halves,
    /// `[-x1, x0, -x3, x2, …]` for adjacent pairs.
    private func rotate(_ g: Graph, _ x: Value, file: String, line: Int) throws -> Value {
        let s = g.type(of: x).shape
        switch pairing {
        case .halfRotation:
            let first = try g.slice(x, axis: 3, 0..<(dim / 2), file: file, line: line)
            let second = try g.slice(x, axis: 3, (dim / 2)..<dim, file: file, line: line)
            return try g.concat([g.neg(second, file: file, line: line), first], axis: 3, file: file, line: line)
        case .adjacentPairs:
            let pairs = try g.reshape(x, [s[0], s[1], s[2], dim / 2, 2], file: file, line: line)
            let even = try g.slice(pairs, axis: 4, 0..<1, file: file, line: line)
            let odd = try g.slice(pairs, axis: 4, 1..<2, file: file, line: line)
            let r = try g.concat([g.neg(odd, file: file, line: line), even], axis: 4, file: file, line: line)
            return try g.reshape(r, s, file: file, line: line)
        }
    }
}
