import Testing
@testable import GraphIR

/// SplitMix64: a tiny seeded generator so every random graph can be rebuilt from its seed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<n (n > 0).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) * 0x1p-53 < p }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
    mutating func float() -> Double { (Double(next() >> 11) * 0x1p-53 - 0.5) * pick([1, 1e-3, 1e6]) }
}

/// Builds random well-typed graphs through the checked builder: random ops, shapes with size-1 dimensions and
/// broadcasting, every attribute kind, every mask kind, notes and scopes.
struct RandomGraphBuilder {
    var rng: SplitMix
    let g: Graph
    var floats: [Value] = []
    var ints: [Value] = []
    var bools: [Value] = []
    var leafCount = 0

    init(seed: UInt64) {
        rng = SplitMix(seed: seed)
        g = Graph(name: "random \(seed)")
    }

    mutating func shape(rank: Int? = nil) -> [Int] {
        (0..<(rank ?? rng.below(4))).map { _ in rng.pick([1, 1, 2, 3, 4]) }
    }

    mutating func name(_ prefix: String) -> String {
        leafCount += 1
        return "\(prefix).\(leafCount)"
    }

    /// A fresh leaf of this type: input, parameter or constant.
    mutating func leaf(_ t: TensorType) throws -> Value {
        switch rng.below(t.dtype.isFloat ? 3 : 2) {
        case 0: return try g.input(name("in"), t.shape, t.dtype)
        case 1:
            if t.dtype.isFloat {
                let inits: [Initializer?] = [nil, .zeros, .ones, .constant(rng.float()), .normal(std: 0.02),
                                             .truncatedNormal(std: rng.float()), .uniform(low: -0.1, high: rng.float())]
                return try g.parameter(name("p"), t.shape, role: rng.pick(ParameterRole.allCases), initializer: rng.pick(inits), t.dtype)
            }
            return try g.constant(Tensor(t.dtype, t.shape, (0..<t.count).map { _ in Double(rng.below(2)) }))
        default:
            if rng.chance(0.5) { return try g.constant(rng.float(), shape: t.shape, t.dtype) }
            return try g.constant(Tensor(t.dtype, t.shape, (0..<t.count).map { _ in rng.float() }))
        }
    }

    /// A shape that broadcasts against `s`: some dimensions set to 1, some leading ones dropped.
    mutating func broadcastPartner(_ s: [Int]) -> [Int] {
        var p = s.map { rng.chance(0.3) ? 1 : $0 }
        if !p.isEmpty && rng.chance(0.3) { p.removeFirst(rng.below(p.count + 1)) }
        if rng.chance(0.2) { p.insert(1, at: 0) }
        return p
    }

    mutating func anyFloat() throws -> Value {
        if floats.isEmpty || rng.chance(0.15) { floats.append(try leaf(TensorType(rng.pick([.f32, .f32, .f64]), shape()))) }
        return rng.pick(floats)
    }

    mutating func anyFloat(minRank: Int) throws -> Value {
        let candidates = floats.filter { g.type(of: $0).rank >= minRank && g.type(of: $0).count > 0 }
        if candidates.isEmpty || rng.chance(0.2) {
            let v = try leaf(TensorType(.f32, shape(rank: minRank + rng.below(2))))
            floats.append(v)
            return v
        }
        return rng.pick(candidates)
    }

    mutating func record(_ v: Value) {
        switch g.type(of: v).dtype {
        case .f32, .f64: floats.append(v)
        case .i32: ints.append(v)
        case .bool: bools.append(v)
        }
    }

    mutating func randomAxes(_ rank: Int) -> [Int] {
        (0..<rank).filter { _ in rng.chance(0.5) }.map { rng.chance(0.3) ? $0 - rank : $0 }
    }

    /// Emits one random op; returns the op kind attempted.
    mutating func step() throws -> OpKind {
        let op = rng.pick(OpKind.allCases.filter { ![.input, .parameter, .constant].contains($0) })
        let v: Value
        switch op {
        case .neg, .abs, .exp, .log, .sqrt, .rsqrt, .tanh, .erf, .sigmoid, .relu, .sin, .cos, .stopGradient:
            v = try g.unary(op, try anyFloat())
        case .logicalNot:
            v = try g.unary(op, try anyBool())
        case .cast:
            v = try g.cast(try anyFloat(), to: rng.pick(DType.allCases))
        case .add, .sub, .mul, .div, .maximum, .minimum, .pow, .eq, .ne, .lt, .le, .gt, .ge:
            let useInt = op != .pow && rng.chance(0.2)
            let a = useInt ? try anyInt() : try anyFloat()
            let ta = g.type(of: a)
            let b = try leaf(TensorType(ta.dtype, broadcastPartner(ta.shape)))
            v = rng.chance(0.5) ? try g.binary(op, a, b) : try g.binary(op, b, a)
        case .logicalAnd, .logicalOr:
            let a = try anyBool()
            let b = try g.binary(.gt, try leaf(TensorType(.f32, broadcastPartner(g.type(of: a).shape))), try g.constant(0))
            v = try g.binary(op, a, b)
        case .where:
            let c = try anyBool()
            let a = try leaf(TensorType(.f32, broadcastPartner(g.type(of: c).shape)))
            v = try g.select(c, a, try leaf(TensorType(.f32, broadcastPartner(g.type(of: a).shape))))
        case .reduceSum, .reduceMax, .reduceMean:
            let x = try anyFloat()
            v = try g.reduce(op, x, axes: randomAxes(g.type(of: x).rank), keepDims: rng.chance(0.5))
        case .argmax:
            let x = try anyFloat(minRank: 1)
            let r = g.type(of: x).rank
            v = try g.emit(.argmax, [x], ["axis": .int(rng.below(r) - (rng.chance(0.5) ? r : 0)), "keep_dims": .bool(rng.chance(0.5))])
        case .reshape:
            let x = try anyFloat()
            let t = g.type(of: x)
            v = try g.reshape(x, rng.pick([[t.count], [1, t.count], t.shape.reversed(), [t.count, 1, 1]]))
        case .transpose:
            let x = try anyFloat()
            var perm = Array(0..<g.type(of: x).rank)
            for i in perm.indices.reversed() { perm.swapAt(i, rng.below(i + 1)) }
            v = try g.transpose(x, perm)
        case .broadcastTo:
            let x = try anyFloat()
            v = try g.broadcast(x, to: [rng.pick([1, 3])] + g.type(of: x).shape.map { $0 == 1 ? rng.pick([1, 2]) : $0 })
        case .slice:
            let x = try anyFloat()
            let s = g.type(of: x).shape
            let starts = s.map { rng.below($0 + 1) }
            v = try g.slice(x, starts: starts, limits: zip(starts, s).map { $0 + rng.below($1 - $0 + 1) })
        case .pad:
            let x = try anyFloat()
            let r = g.type(of: x).rank
            v = try g.pad(x, low: (0..<r).map { _ in rng.below(3) }, high: (0..<r).map { _ in rng.below(3) })
        case .concat:
            let x = try anyFloat(minRank: 1)
            let t = g.type(of: x)
            let ax = rng.below(t.rank)
            var other = t.shape
            other[ax] = rng.pick([1, 2])
            v = try g.concat([x, try leaf(TensorType(t.dtype, other)), x], axis: ax)
        case .gather:
            let table = try anyFloat(minRank: 1)
            let t = g.type(of: table)
            let ax = rng.below(t.rank)
            let idx = try g.iota(shape(rank: 1 + rng.below(2)).map { _ in t.shape[ax] }, axis: 0)
            v = try g.gather(table, idx, axis: ax)
        case .scatterAdd:
            let idx = try g.iota([rng.pick([1, 2, 3])], axis: 0)
            let upd = try leaf(TensorType(.f32, [2, g.type(of: idx).shape[0], 3]))
            v = try g.scatterAdd(upd, idx, axis: 1, size: 4)
        case .iota:
            let s = shape(rank: 1 + rng.below(3))
            v = try g.iota(s, axis: rng.below(s.count), rng.pick([.i32, .f32]))
        case .matmul:
            let (m, k, n) = (rng.pick([1, 2, 3]), rng.pick([1, 4]), rng.pick([1, 2]))
            let ta = rng.chance(0.5), tb = rng.chance(0.5)
            let batchA = shape(rank: rng.below(3))
            let a = try leaf(TensorType(.f32, batchA + (ta ? [k, m] : [m, k])))
            let b = try leaf(TensorType(.f32, broadcastPartner(batchA) + (tb ? [n, k] : [k, n])))
            v = try g.matmul(a, b, transposeA: ta, transposeB: tb)
        case .randomUniform:
            v = try g.randomUniform(seed: try seed(), shape: shape(), rng.pick([.f32, .f64]))
        case .sampleCategorical:
            v = try g.sampleCategorical(logits: try anyFloat(minRank: 1), seed: try seed())
        case .softmax, .logSoftmax:
            let x = try anyFloat(minRank: 1)
            let r = g.type(of: x).rank
            v = try g.emit(op, [x], ["axis": .int(rng.below(r) - (rng.chance(0.5) ? r : 0))])
        case .layerNorm, .rmsNorm:
            let x = try anyFloat(minRank: 1)
            let t = g.type(of: x)
            let affine = rng.below(op == .layerNorm ? 3 : 2)
            let ps = try (0..<affine).map { _ in try g.parameter(name("norm"), [t.shape.last!], initializer: .ones, t.dtype) }
            v = try g.emit(op, [x] + ps, ["eps": rng.chance(0.8) ? .float(1e-5) : .int(0)])
        case .gelu:
            v = try g.gelu(try anyFloat(), approximate: rng.chance(0.5))
        case .crossEntropy:
            let logits = try anyFloat(minRank: 1)
            let t = g.type(of: logits)
            let labels = try g.input(name("labels"), Array(t.shape.dropLast()), .i32)
            v = try g.crossEntropy(logits: logits, labels: labels, ignoreIndex: rng.pick([-100, 0]), labelSmoothing: rng.pick([0, 0.1]))
        case .attention, .attentionProbs:
            v = try attention(probabilities: op == .attentionProbs)
        case .fusedElementwise, .fusedReduce:
            let a = try anyFloat()
            let b = try leaf(TensorType(g.type(of: a).dtype, broadcastPartner(g.type(of: a).shape)))
            if op == .fusedElementwise {
                let expr = rng.pick(["add($0, $1)", "mul(exp($0), $1)", "where(gt($0, $1), $0, $1)", "gt($0, $1)"])
                v = try g.emit(op, [a, b], ["expr": .string(expr)])
            } else {
                let rank = broadcastShapes(g.type(of: a).shape, g.type(of: b).shape)?.count ?? 0
                v = try g.emit(op, [a, b], ["expr": .string("exp(sub($0, $1))"), "reduce": .symbol(rng.pick(["sum", "max", "mean"])),
                                            "axes": .ints(randomAxes(rank)), "keep_dims": .bool(rng.chance(0.5))])
            }
        case .fusedMatmul:
            let (m, k, n) = (rng.pick([1, 2, 3]), rng.pick([1, 4]), rng.pick([1, 2]))
            let a = try leaf(TensorType(.f32, [m, k]))
            let b = try leaf(TensorType(.f32, [k, n]))
            let e = try leaf(TensorType(.f32, Array(broadcastPartner([m, n]).suffix(2))))
            v = try g.emit(op, [a, b, e], ["expr": .string(rng.pick(["gelu(add($0, $1))", "mul($0, $1)"]))])
        case .addLayerNorm:
            let x = try anyFloat(minRank: 1)
            let t = g.type(of: x)
            let ps = try (0..<rng.below(3)).map { _ in try g.parameter(name("norm"), [t.shape.last!], initializer: .ones, t.dtype) }
            v = try g.emit(op, [x, try leaf(t)] + ps, ["eps": .float(1e-5)])
        case .input, .parameter, .constant:
            return op
        }
        record(v)
        if rng.chance(0.2) {
            g.setNotes(v, ["grad": .symbol(rng.pick(["full", "input_only", "none"])), "saved": .bool(rng.chance(0.5)),
                           "cost": rng.chance(0.5) ? .int(rng.below(100)) : .float(rng.float()),
                           "tag": .string("n\(v.id) \"q\""), "dims": .ints([1, 2]), "w": .floats([0.5, -2.0]), "d": .dtype(.f64)])
        }
        return op
    }

    mutating func attention(probabilities: Bool) throws -> Value {
        let (b, hk, lq, d) = (rng.pick([1, 2]), rng.pick([1, 2]), rng.pick([1, 2, 4]), rng.pick([1, 4]))
        let h = hk * rng.pick([1, 2])
        let lk = rng.chance(0.5) ? lq : rng.pick([1, 3])
        let pattern: MaskPattern
        switch rng.below(4) {
        case 0: pattern = .none
        case 1: pattern = .causal
        case 2: pattern = .prefixCausal(rng.below(lk + 1))
        default: pattern = lq == lk ? .block(lq == 4 ? [1, 3] : [lq]) : .none
        }
        let q = try leaf(TensorType(.f32, [b, h, lq, d]))
        let k = try leaf(TensorType(.f32, [b, hk, lk, d]))
        let v = try leaf(TensorType(.f32, [b, hk, lk, rng.pick([1, 2])]))
        let lens = rng.chance(0.5) ? try g.input(name("lens"), [b], .i32) : nil
        let bias = rng.chance(0.3) ? try leaf(TensorType(.f32, Array(broadcastPartner([b, h, lq, lk]).suffix(4)))) : nil
        let scale = rng.chance(0.5) ? nil : rng.float()
        if probabilities { return try g.attentionProbs(q, k, mask: pattern, lens: lens, bias: bias, scale: scale) }
        return try g.attention(q, k, v, mask: pattern, lens: lens, bias: bias, scale: scale)
    }

    mutating func anyBool() throws -> Value {
        if bools.isEmpty || rng.chance(0.2) {
            let x = try anyFloat()
            bools.append(try g.binary(.lt, x, try g.constant(0, shape: [], g.type(of: x).dtype)))
        }
        return rng.pick(bools)
    }

    mutating func anyInt() throws -> Value {
        if ints.isEmpty || rng.chance(0.3) { ints.append(try leaf(TensorType(.i32, shape()))) }
        return rng.pick(ints)
    }

    mutating func seed() throws -> Value { try g.input(name("seed"), [], .i32) }

    /// A graph of `steps` random ops in random scopes, with outputs and optimizer-style updates.
    mutating func build(steps: Int) throws -> (Graph, Set<OpKind>) {
        var used: Set<OpKind> = []
        for _ in 0..<steps {
            let scope = rng.pick(["", "enc", "enc.layer.\(rng.below(3)).attn", "odd scope \"quoted\""])
            if scope.isEmpty {
                used.insert(try step())
            } else {
                var me = self
                used.insert(try g.scope(scope) { try me.step() })
                self = me
            }
        }
        for (i, v) in floats.enumerated() where rng.chance(0.2) { g.output("out\(i)", v) }
        for p in g.parameters where rng.chance(0.3) {
            g.update(p.name, try g.mul(p.value, try g.constant(0.9, shape: [], g.type(of: p.value).dtype)))
        }
        return (g, used.union(g.nodes.map(\.op)))
    }
}

@Suite struct RandomGraphTests {
    @Test func randomGraphsRoundTripAndVerify() throws {
        var opCounts: [OpKind: Int] = [:]
        var maskKinds: Set<String> = []
        var nodeTotal = 0
        for seed in 0..<300 {
            var builder = RandomGraphBuilder(seed: UInt64(seed))
            let (g, _) = try builder.build(steps: 25)
            try Verifier.verify(g)
            let text = GraphPrinter.print(g, locations: seed % 2 == 0)
            let parsed = try GraphParser.parse(text)
            try Verifier.verify(parsed)
            #expect(GraphPrinter.print(parsed, locations: seed % 2 == 0) == text, "seed \(seed)")
            #expect(parsed.nodes.count == g.nodes.count, "seed \(seed)")
            if seed % 2 == 0 {
                for (a, b) in zip(parsed.nodes, g.nodes) where !(a.notes["cost"]?.isNaNFloat ?? false) {
                    #expect(a == b, "seed \(seed): \(GraphPrinter.nodeLine(a, index: 0)) vs \(GraphPrinter.nodeLine(b, index: 0))")
                }
            }
            nodeTotal += g.nodes.count
            for n in g.nodes {
                opCounts[n.op, default: 0] += 1
                if let m = n.attributes.mask("mask") {
                    switch m.pattern {
                    case .none: maskKinds.insert("none")
                    case .causal: maskKinds.insert("causal")
                    case .prefixCausal: maskKinds.insert("prefix_causal")
                    case .block: maskKinds.insert("block")
                    }
                    if m.keyPadding { maskKinds.insert("padding") }
                }
            }
        }
        for op in OpKind.allCases {
            #expect(opCounts[op, default: 0] >= 5, "op \(op.mnemonic) appeared only \(opCounts[op, default: 0]) times in 300 random graphs")
        }
        #expect(maskKinds == ["none", "causal", "prefix_causal", "block", "padding"])
        #expect(nodeTotal > 300 * 25)
    }
}

extension AttrValue {
    var isNaNFloat: Bool { if case .float(let d) = self { return d.isNaN }; return false }
}
