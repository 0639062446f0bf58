import GraphAutodiff
import GraphIR
import Testing

/// Builds one random instance of an op's gradient check (variant `v` selects structural options) and returns the loss.
typealias OpCase = (CheckBuilder, Int) throws -> Value

/// Relative-error bound for every finite-difference check: |ad − fd| / max(1, |fd|) ≤ 1e-6 with h = 1e-5 in f64
/// (truncation error ~h² and rounding ~1e-16/h are both far below it).
let gradientTolerance = 1e-6

/// How many random instances each op is checked on (ops with more structural variants get more).
let variantsPerOp: [OpKind: Int] = [.matmul: 12, .attention: 8, .attentionProbs: 8, .layerNorm: 3, .crossEntropy: 4]

private func unaryCase(_ op: OpKind, _ make: @escaping (CheckBuilder, [Int]) throws -> Value = { b, s in try b.param(s) }) -> OpCase {
    { b, _ in try b.loss(b.g.unary(op, make(b, b.shape(rank: b.rng.int(0...3))))) }
}

/// Two broadcast-compatible operands; which one has the full shape alternates with the variant.
private func binaryCase(_ op: OpKind, lhs: @escaping (CheckBuilder, [Int]) throws -> Value = { b, s in try b.param(s) },
                        rhs: @escaping (CheckBuilder, [Int]) throws -> Value = { b, s in try b.param(s) }) -> OpCase {
    { b, v in
        let full = b.shape(rank: b.rng.int(1...3)), partner = b.broadcastPartner(full)
        let (sa, sb) = v % 2 == 0 ? (full, partner) : (partner, full)
        return try b.loss(b.g.binary(op, lhs(b, sa), rhs(b, sb)))
    }
}

private func reductionCase(_ op: OpKind, _ make: @escaping (CheckBuilder, [Int]) throws -> Value = { b, s in try b.param(s) }) -> OpCase {
    { b, _ in
        let s = b.shape(rank: b.rng.int(1...3))
        var axes = (0..<s.count).filter { _ in b.rng.bool() }
        if axes.isEmpty { axes = [b.rng.int(0...(s.count - 1))] }
        return try b.loss(b.g.reduce(op, make(b, s), axes: axes, keepDims: b.rng.bool()))
    }
}

/// One finite-difference case per differentiable op; the registry test requires an entry for every op with a rule.
let opCases: [OpKind: OpCase] = [
    .neg: unaryCase(.neg),
    .abs: unaryCase(.abs) { b, s in try b.awayFromZero(s) },
    .exp: unaryCase(.exp),
    .log: unaryCase(.log) { b, s in try b.positive(s) },
    .sqrt: unaryCase(.sqrt) { b, s in try b.positive(s) },
    .rsqrt: unaryCase(.rsqrt) { b, s in try b.positive(s) },
    .tanh: unaryCase(.tanh),
    .erf: unaryCase(.erf),
    .sigmoid: unaryCase(.sigmoid),
    .relu: unaryCase(.relu) { b, s in try b.awayFromZero(s) },
    .sin: unaryCase(.sin),
    .cos: unaryCase(.cos),
    .cast: { b, _ in try b.loss(b.g.cast(b.param(b.shape(rank: 2)), to: .f64)) },
    .add: binaryCase(.add),
    .sub: binaryCase(.sub),
    .mul: binaryCase(.mul),
    .div: binaryCase(.div, rhs: { b, s in try b.awayFromZero(s, margin: 0.5) }),
    .maximum: binaryCase(.maximum, lhs: { b, s in try b.grid(s, offset: 0.05) }, rhs: { b, s in try b.grid(s, offset: -0.05) }),
    .minimum: binaryCase(.minimum, lhs: { b, s in try b.grid(s, offset: 0.05) }, rhs: { b, s in try b.grid(s, offset: -0.05) }),
    .pow: binaryCase(.pow, lhs: { b, s in try b.positive(s) }),
    .where: { b, v in
        let full = b.shape(rank: b.rng.int(1...3))
        let shapes = [full, b.broadcastPartner(full), b.broadcastPartner(full)]
        let (c, x, y) = (shapes[v % 3], shapes[(v + 1) % 3], shapes[(v + 2) % 3])
        return try b.loss(b.g.select(b.constantBools(c), b.param(x), b.param(y)))
    },
    .reduceSum: reductionCase(.reduceSum),
    .reduceMean: reductionCase(.reduceMean),
    .reduceMax: reductionCase(.reduceMax) { b, s in try b.distinct(s) },
    .reshape: { b, _ in
        let s = b.shape(rank: b.rng.int(1...3)), n = s.reduce(1, *)
        return try b.loss(b.g.reshape(b.param(s), [[n], [1, n], s.reversed()][b.rng.int(0...2)]))
    },
    .transpose: { b, _ in
        let s = b.shape(rank: b.rng.int(1...4))
        var perm = Array(0..<s.count)
        for i in stride(from: perm.count - 1, to: 0, by: -1) { perm.swapAt(i, b.rng.int(0...i)) }
        return try b.loss(b.g.transpose(b.param(s), perm))
    },
    .broadcastTo: { b, _ in
        let s = b.shape(rank: b.rng.int(1...3))
        return try b.loss(b.g.broadcast(b.param(b.broadcastPartner(s)), to: s))
    },
    .slice: { b, _ in
        let s = (0..<b.rng.int(1...3)).map { _ in b.rng.int(2...4) }
        let starts = s.map { b.rng.int(0...($0 - 1)) }
        let limits = zip(s, starts).map { b.rng.int(($1 + 1)...$0) }
        return try b.loss(b.g.slice(b.param(s), starts: starts, limits: limits))
    },
    .pad: { b, _ in
        let s = b.shape(rank: b.rng.int(1...3))
        return try b.loss(b.g.pad(b.param(s), low: s.map { _ in b.rng.int(0...2) }, high: s.map { _ in b.rng.int(0...2) }))
    },
    .concat: { b, _ in
        let s = b.shape(rank: b.rng.int(1...3)), axis = b.rng.int(0...(s.count - 1))
        let parts = try (0..<b.rng.int(1...3)).map { _ -> Value in
            var p = s
            p[axis] = b.rng.int(1...3)
            return try b.param(p)
        }
        return try b.loss(b.g.concat(parts, axis: axis))
    },
    .gather: { b, _ in
        let s = [b.rng.int(2...4)] + b.shape(rank: b.rng.int(1...2)), axis = b.rng.int(0...(s.count - 1))
        let indices = try b.constantInts(b.shape(rank: b.rng.int(1...2)), 0...(s[axis] - 1))
        return try b.loss(b.g.gather(b.param(s), indices, axis: axis))
    },
    .scatterAdd: { b, _ in
        let outer = b.shape(rank: b.rng.int(0...1)), idx = b.shape(rank: b.rng.int(1...2)), inner = b.shape(rank: b.rng.int(0...1))
        let size = b.rng.int(2...4)
        let indices = try b.constantInts(idx, 0...(size - 1))
        return try b.loss(b.g.scatterAdd(b.param(outer + idx + inner), indices, axis: outer.count, size: size))
    },
    .matmul: { b, v in
        let (ta, tb) = (v & 1 == 1, v & 2 == 2)
        let (m, k, n) = (b.rng.int(1...3), b.rng.int(1...3), b.rng.int(1...3))
        // Batch layouts: none; batched a with a rank-2 b (the flattened weight-gradient path); broadcast batches.
        let (batchA, batchB): ([Int], [Int]) = [([], []), ([2, 3], []), ([1, 2], [3, 1])][(v / 4) % 3]
        let a = try b.param(batchA + (ta ? [k, m] : [m, k]))
        let c = try b.param(batchB + (tb ? [n, k] : [k, n]))
        return try b.loss(b.g.matmul(a, c, transposeA: ta, transposeB: tb))
    },
    .softmax: { b, _ in
        let s = b.shape(rank: b.rng.int(1...3))
        return try b.loss(b.g.softmax(b.param(s), axis: b.rng.int(0...(s.count - 1))))
    },
    .logSoftmax: { b, _ in
        let s = b.shape(rank: b.rng.int(1...3))
        return try b.loss(b.g.logSoftmax(b.param(s), axis: b.rng.int(0...(s.count - 1)) - s.count))
    },
    .layerNorm: { b, v in
        let s = b.shape(rank: b.rng.int(1...3)) + [b.rng.int(2...4)], d = s.last!
        let gamma = v >= 1 ? try b.param([d]) : nil, beta = v >= 2 ? try b.param([d]) : nil
        return try b.loss(b.g.layerNorm(b.param(s), gamma: gamma, beta: beta, eps: 1e-5))
    },
    .rmsNorm: { b, v in
        let s = b.shape(rank: b.rng.int(1...3)) + [b.rng.int(2...4)]
        return try b.loss(b.g.rmsNorm(b.param(s), gamma: v % 2 == 1 ? try b.param([s.last!]) : nil, eps: 1e-6))
    },
    .gelu: { b, v in try b.loss(b.g.gelu(b.param(b.shape(rank: b.rng.int(0...3))), approximate: v % 2 == 1)) },
    .crossEntropy: { b, v in
        let rows = v % 2 == 0 ? [b.rng.int(2...5)] : [2, b.rng.int(2...3)], classes = b.rng.int(2...5)
        let ignore = v < 2 ? -100 : 1
        // Labels include the ignore index (−100 or the valid class 1).
        let labels = (0..<rows.reduce(1, *)).map { i in i == 0 ? ignore : b.rng.int(0...(classes - 1)) }
        let l = try b.g.crossEntropy(logits: b.param(rows + [classes]), labels: b.g.constant(Tensor(ints: labels, shape: rows)),
                                     ignoreIndex: ignore, labelSmoothing: v % 2 == 1 ? 0.1 : 0)
        return try b.loss(l)
    },
    .attention: { b, v in try b.loss(attentionCase(b, kind: AttentionCaseKind.allCases[v % AttentionCaseKind.allCases.count])) },
    .attentionProbs: { b, v in
        try b.loss(attentionCase(b, kind: AttentionCaseKind.allCases[v % AttentionCaseKind.allCases.count], probsOnly: true))
    },
]

/// The attention configurations every attention gradient is checked under.
enum AttentionCaseKind: CaseIterable {
    case unmasked, causal, prefixCausal, block, padding, groupedQueryWithBias, fullBiasWithPadding, blockWithEmptyRows
}

/// Attention over small random q, k, v (B = 2, Lq = 3 or 4, Lk = 4, D = 3, Dv = 2).
func attentionCase(_ b: CheckBuilder, kind: AttentionCaseKind, probsOnly: Bool = false) throws -> Value {
    let (batch, lk, d, dv) = (2, 4, 3, 2)
    var (heads, kvHeads, lq) = (2, 2, 3)
    var pattern = MaskPattern.none
    var lens: [Int]?
    var biasShape: [Int]?
    switch kind {
    case .unmasked: break
    case .causal: pattern = .causal
    case .prefixCausal: (pattern, lq) = (.prefixCausal(2), 4)
    case .block: (pattern, lq) = (.block([2, 1, 1]), 4)
    case .padding: (pattern, lens) = (.causal, [4, 2])
    case .groupedQueryWithBias: (heads, kvHeads, biasShape) = (4, 2, [1, 4, 3, 4])
    case .fullBiasWithPadding: (lens, biasShape) = ([3, 1], [batch, heads, lq, lk])
    case .blockWithEmptyRows: (pattern, lq, lens) = (.block([2, 2]), 4, [4, 1])
    }
    let q = try b.param([batch, heads, lq, d]), k = try b.param([batch, kvHeads, lk, d])
    let lensValue = try lens.map { try b.g.constant(Tensor(ints: $0, shape: [batch])) }
    let bias = try biasShape.map { try b.param($0) }
    let mask = AttentionMask(pattern, keyPadding: lensValue != nil)
    let attrs: Attributes = ["mask": .mask(mask), "scale": .float(0.7)]
    if probsOnly { return try b.g.emit(.attentionProbs, [q, k] + [lensValue, bias].compactMap { $0 }, attrs) }
    let v = try b.param([batch, kvHeads, lk, dv])
    return try b.g.attention(q, k, v, mask: pattern, lens: lensValue, bias: bias, scale: 0.7)
}

@Suite("VJP rules")
struct OpGradientTests {
    @Test("every op has a VJP rule or a stated reason, and every rule has a finite-difference case")
    func registryIsComplete() {
        for op in OpKind.allCases {
            switch op.spec.vjp {
            case .missing: Issue.record("\(op.mnemonic) has no VJP rule and no reason")
            case .notDifferentiable(let why): #expect(!why.isEmpty, "\(op.mnemonic) needs a reason")
            case .rule: #expect(opCases[op] != nil, "\(op.mnemonic) has a VJP rule but no finite-difference case")
            }
        }
    }

    @Test("finite differences match every differentiable op", arguments: OpKind.allCases.filter {
        if case .rule = $0.spec.vjp { return true }
        return false
    })
    func finiteDifferences(op: OpKind) throws {
        let build = try #require(opCases[op])
        for variant in 0..<(variantsPerOp[op] ?? 3) {
            let b = CheckBuilder(seed: UInt64(1000 * variant + 7) &+ UInt64(truncatingIfNeeded: stableHash(op.mnemonic)))
            let loss = try build(b, variant)
            let r = try checkGradients(b, loss: loss)
            #expect(r.checked > 0)
            #expect(r.maxRelativeError <= gradientTolerance, "\(op.mnemonic) variant \(variant): \(r.worst)")
        }
    }

    @Test("asking for one operand's gradient gives the same numbers with no more backward ops", arguments: OpKind.allCases.filter {
        if case .rule = $0.spec.vjp { return true }
        return false
    })
    func partialNeeds(op: OpKind) throws {
        let build = try #require(opCases[op])
        for variant in 0..<(variantsPerOp[op] ?? 3) {
            let b = CheckBuilder(seed: UInt64(31 * variant + 5) &+ UInt64(truncatingIfNeeded: stableHash(op.mnemonic)))
            let loss = try build(b, variant)
            let full = try gradients(of: loss, in: b.g)
            let all = try Interpreter().run(full.graph, inputs: b.inputs, parameters: b.parameters)
            for name in b.parameters.keys.sorted() where b.parameters.count > 1 {
                let one = try gradients(of: loss, in: b.g, wrt: [name])
                let out = try Interpreter().run(one.graph, inputs: b.inputs, parameters: b.parameters)
                #expect(out["grad." + name] == all["grad." + name], "\(op.mnemonic) variant \(variant), \(name)")
                #expect(one.backwardValues.count <= full.backwardValues.count)
            }
        }
    }

    @Test("attention gradients under each mask kind", arguments: AttentionCaseKind.allCases)
    func attentionMasks(kind: AttentionCaseKind) throws {
        let b = CheckBuilder(seed: 99)
        let r = try checkGradients(b, loss: b.loss(attentionCase(b, kind: kind)))
        #expect(r.maxRelativeError <= gradientTolerance, "\(kind): \(r.worst)")
    }
}
