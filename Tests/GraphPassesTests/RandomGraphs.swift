import GraphIR

/// Seeded random graphs that exercise every pass: elementwise chains, reductions, matmuls with epilogues,
/// reshape/transpose chains, identities (x+0, x*1, neg neg), duplicated subexpressions, frozen parameters,
/// dead code, layer norms after residual adds, softmax attention over [B, H, L, D] values.
enum RandomGraphs {
    static func make(seed: UInt64) throws -> TestModel {
        var rng = SeededRandom(seed)
        let g = Graph(name: "random\(seed)")
        let (m, n) = (1 + rng.int(4), 2 + rng.int(4))
        var pool: [Value] = [try g.input("x0", [m, n]), try g.input("x1", [m, n]), try g.input("row", [n])]
        pool.append(try g.parameter("w", [n, n], role: rng.int(2) == 0 ? .frozen : .trainable))
        pool.append(try g.parameter("f", [n], role: .frozen))
        func pick(_ shape: [Int]? = nil) -> Value {
            let c = shape.map { s in pool.filter { g.type(of: $0).shape == s } } ?? pool
            return c.isEmpty ? pool[0] : c[rng.int(c.count)]
        }
        let steps = 6 + rng.int(14)
        for _ in 0..<steps {
            let a = pick([m, n])
            let v: Value
            switch rng.int(17) {
            case 0: v = try g.unary([.neg, .abs, .tanh, .sigmoid, .relu, .sin][rng.int(6)], a)
            case 1: v = try g.binary([.add, .sub, .mul, .maximum, .minimum][rng.int(5)], a, pick(rng.int(2) == 0 ? [n] : [m, n]))
            case 2: v = try g.add(a, try g.constant(0, shape: rng.int(2) == 0 ? [] : [n]))
            case 3: v = try g.mul(try g.constant(1), a)
            case 4: v = try g.neg(try g.neg(a))
            case 5: v = try g.transpose(try g.transpose(a, [1, 0]), [1, 0])
            case 6: v = try g.reshape(try g.reshape(a, [m * n]), [m, n])
            case 7: v = try g.add(try g.matmul(a, pick([n, n])), pick([n]))
            case 8: v = try g.gelu(try g.matmul(a, pick([n, n])), approximate: rng.int(2) == 0)
            case 9: v = try g.broadcast(try g.reduceSum(try g.mul(a, a), axes: [1], keepDims: true), to: [m, n])
            case 10: v = try g.sub(a, try g.reduceMax(a, axes: [1], keepDims: true))
            case 11:
                let c = try g.binary(.gt, a, pick([m, n]))
                v = try g.select(c, a, try g.constant(-2, shape: []))
            case 12: v = try g.layerNorm(try g.add(a, pick([m, n])), gamma: pick([n]), eps: 1e-5)
            case 13: v = try g.softmax(try g.binary(.mul, a, scalar: 0.5), axis: -1)
            case 14:
                // The same expression twice (CSE), one copy unused (DCE).
                let e1 = try g.exp(try g.tanh(a)), e2 = try g.exp(try g.tanh(a))
                _ = try g.sigmoid(e2)
                v = try g.add(e1, e2)
            case 15:
                // Frozen-only work (freeze folds it): scaled and transposed weights.
                let w = try g.transpose(try g.binary(.mul, pick([n, n]), scalar: 0.25), [1, 0])
                v = try g.matmul(a, w)
            default:
                let q = try g.reshape(a, [1, 1, m, n]), k = try g.reshape(pick([m, n]), [1, 1, m, n])
                let s = try g.binary(.mul, try g.matmul(q, k, transposeB: true), scalar: 0.5)
                v = try g.reshape(try g.matmul(try g.softmax(s, axis: -1), k), [m, n])
            }
            pool.append(v)
        }
        g.output("y", pool.last!)
        if rng.int(2) == 0 { g.output("z", pool[pool.count / 2 + 2]) }
        let (inputs, params) = randomBindings(g, seed: seed &* 31 &+ 7)
        return TestModel(name: g.name, graph: g, inputs: inputs, parameters: params)
    }
}
