import GraphIR

/// `fuse`: turns chains of ops into fewer kernels. Runs after autodiff (fused ops have no VJP). In order:
/// 1. attention: `matmul(softmax(matmul(q, k^T) * scale + bias), v)` on `[B, H, L, D]` values → `attention` with
///    that scale and bias (fold-masks can then fold the bias);
/// 2. projections: matmuls of one input by several rank-2 weights (Q, K, V) → one matmul by the concatenated
///    weights, then slices (their bias adds are merged too when every one has one);
/// 3. `layer_norm(add(x, r))` → `add_layer_norm(x, r)` when the sum has no other use;
/// 4. kernels: connected elementwise/broadcast ops → `fused_elementwise`; such a chain feeding a reduction →
///    `fused_reduce`; a matmul whose only consumers are such a chain of its output's shape → `fused_matmul`
///    (bias, GELU, residual epilogues). A value read outside its chain (or a result of the graph) ends the chain.
///
/// Guarantees: fused kernels have reference semantics equal to the ops they replace; steps 2–4 are bit-identical
/// on the interpreter; step 1 differs by f32 rounding of the scores (the attention kernel does not round the
/// intermediate products), and rows whose keys are all masked by -inf give 0 instead of NaN.
public func fuse(_ g: Graph, steps: FuseSteps = .all) throws -> Graph {
    var x = g
    if steps.contains(.attention) { x = try formAttention(x) }
    if steps.contains(.projections) { x = try mergeProjections(x) }
    if steps.contains(.addLayerNorm) { x = try fuseAddLayerNorm(x) }
    if !steps.isDisjoint(with: [.kernels, .reductions]) { x = try fuseKernels(x, steps) }
    return eliminateDeadCode(x)
}

/// The steps of `fuse`, to run them one at a time (benchmarks, debugging).
public struct FuseSteps: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let attention = FuseSteps(rawValue: 1)
    public static let projections = FuseSteps(rawValue: 2)
    public static let addLayerNorm = FuseSteps(rawValue: 4)
    /// Elementwise chains and matmul epilogues.
    public static let kernels = FuseSteps(rawValue: 8)
    /// Elementwise prologues of reductions.
    public static let reductions = FuseSteps(rawValue: 16)
    /// Chains whose operands broadcast (e.g. [B, L, 1] against [B, L, D]).
    public static let broadcastOperands = FuseSteps(rawValue: 32)
    public static let all: FuseSteps = [.attention, .projections, .addLayerNorm, .kernels, .reductions, .broadcastOperands]
}

/// Users of every value (each user once per operand slot), plus whether a value is a result of the graph.
struct UseInfo {
    var users: [[Int]]
    var isResult: [Bool]

    init(_ g: Graph) {
        users = Array(repeating: [], count: g.nodes.count)
        isResult = Array(repeating: false, count: g.nodes.count)
        for (i, n) in g.nodes.enumerated() { for o in n.operands { users[o.id].append(i) } }
        for v in g.outputs.map(\.value) + g.updates.map(\.value) { isResult[v.id] = true }
    }

    /// Used exactly once, by a node, and not a result.
    func single(_ v: Value) -> Bool { users[v.id].count == 1 && !isResult[v.id] }
}

// MARK: 1. attention

private func formAttention(_ g: Graph) throws -> Graph {
    let uses = UseInfo(g)
    let rw = GraphRewriter(g)
    for (i, n) in g.nodes.enumerated() {
        if let m = matchAttention(n, g, uses) {
            var operands = [m.q, m.k, n.operands[1]].map(rw.mapped)
            if let b = m.bias { operands.append(rw.mapped(b)) }
            rw.map[i] = try rw.emit(.attention, operands, ["mask": .mask(AttentionMask()), "scale": .float(m.scale)], like: n)
        } else {
            rw.map[i] = rw.append(rw.remapped(n))
        }
    }
    return eliminateDeadCode(rw.finish())
}

private func matchAttention(_ n: Node, _ g: Graph, _ uses: UseInfo) -> (q: Value, k: Value, scale: Double, bias: Value?)? {
    guard n.op == .matmul, n.attributes.isEmpty, n.type.rank == 4, uses.single(n.operands[0]) else { return nil }
    let sm = g[n.operands[0]]
    guard sm.op == .softmax, let axis = sm.attributes.int("axis"), normalizeAxis(axis, rank: 4) == 3 else { return nil }
    var s = sm.operands[0]
    var bias: Value?
    var scale = 1.0
    if g[s].op == .add, uses.single(s) {
        let add = g[s]
        // The scores are the operand with the full score type; the other is the bias.
        let (a, b) = (add.operands[0], add.operands[1])
        let (scores, other) = g.type(of: a) == add.type && isScoreChain(g[a]) ? (a, b) : (b, a)
        guard g.type(of: scores) == add.type else { return nil }
        bias = other
        s = scores
    }
    if (g[s].op == .mul || g[s].op == .div), uses.single(s) {
        let op = g[s]
        let constSide = g[op.operands[1]].splatValue != nil ? 1 : (op.op == .mul && g[op.operands[0]].splatValue != nil ? 0 : -1)
        guard constSide >= 0, let c = g[op.operands[constSide]].splatValue, g.type(of: op.operands[1 - constSide]) == op.type else { return nil }
        scale = op.op == .mul ? c : 1 / c
        s = op.operands[1 - constSide]
    }
    let qk = g[s]
    guard qk.op == .matmul, uses.single(s), qk.attributes.bool("transpose_a") != true else { return nil }
    var k = qk.operands[1]
    if qk.attributes.bool("transpose_b") != true {
        guard g[k].op == .transpose, g[k].attributes.ints("perm") == [0, 1, 3, 2] else { return nil }
        k = g[k].operands[0]
    }
    let (qt, kt, vt) = (g.type(of: qk.operands[0]), g.type(of: k), g.type(of: n.operands[1]))
    guard qt.rank == 4, kt.rank == 4, vt.rank == 4, qt.shape[0] == kt.shape[0], qt.shape[1] == kt.shape[1],
          kt.shape[1] == vt.shape[1], kt.shape[2] == vt.shape[2], qt.shape[0] == vt.shape[0] else { return nil }
    if let b = bias {
        let full = [qt.shape[0], qt.shape[1], qt.shape[2], kt.shape[2]]
        guard g.type(of: b).dtype == qt.dtype, broadcastShapes(g.type(of: b).shape, full) == full else { return nil }
    }
    return (qk.operands[0], k, scale, bias)
}

private func isScoreChain(_ n: Node) -> Bool { n.op == .matmul || n.op == .mul || n.op == .div }

// MARK: 2. projections of one input

private func mergeProjections(_ g: Graph) throws -> Graph {
    let uses = UseInfo(g)
    // Group candidate matmuls by (input, transpose_b, contraction size).
    struct Key: Hashable { var x: Value; var transposeB: Bool; var dtype: DType }
    var groups: [Key: [Int]] = [:]
    for (i, n) in g.nodes.enumerated() where n.op == .matmul && n.attributes.bool("transpose_a") != true {
        let w = g.type(of: n.operands[1])
        guard w.rank == 2, g.type(of: n.operands[0]).rank >= 2 else { continue }
        groups[Key(x: n.operands[0], transposeB: n.attributes.bool("transpose_b") ?? false, dtype: w.dtype), default: []].append(i)
    }
    var plans: [Int: (members: [Int], biases: [Int]?, transposeB: Bool)] = [:]
    for (key, members) in groups where members.count >= 2 {
        let biases: [Int] = members.compactMap { m in
            guard uses.single(Value(m)), let u = uses.users[m].first, g.nodes[u].op == .add else { return nil }
            let add = g.nodes[u]
            let other = add.operands[0] == Value(m) ? add.operands[1] : add.operands[0]
            let width = g.nodes[m].type.shape.last!
            return g.type(of: other).shape == [width] && add.type == g.nodes[m].type ? u : nil
        }
        plans[members.max()!] = (members, biases.count == members.count ? biases : nil, key.transposeB)
    }
    guard !plans.isEmpty else { return g }
    // The merged GEMM is emitted at the first member, so every weight (and bias) must be defined before it;
    // leaves (parameters, constants) defined later are hoisted there.
    var plansByFirst: [Int: (members: [Int], biases: [Int]?, transposeB: Bool)] = [:]
    var replaced: [Int: (first: Int, index: Int)] = [:]
    var skipped = Set<Int>()
    var hoisted: [Int: [Int]] = [:]
    for (_, plan) in plans {
        let first = plan.members.min()!
        var operands = plan.members.map { g.nodes[$0].operands[1].id }
        if let biases = plan.biases {
            operands += zip(plan.members, biases).flatMap { m, b in g.nodes[b].operands.map(\.id).filter { $0 != m } }
        }
        guard operands.allSatisfy({ $0 < first || g.nodes[$0].isLeaf }) else { continue }
        plansByFirst[first] = plan
        hoisted[first] = operands.filter { $0 > first }
        for (k, site) in (plan.biases ?? plan.members).enumerated() { replaced[site] = (first, k) }
        if plan.biases != nil { skipped.formUnion(plan.members) }
    }
    guard !plansByFirst.isEmpty else { return g }
    let rw = GraphRewriter(g)
    var sliceValues: [Int: [Value]] = [:]
    for (i, n) in g.nodes.enumerated() where rw.map[i] == nil {
        if let plan = plansByFirst[i] {
            for leaf in hoisted[i] ?? [] where rw.map[leaf] == nil { rw.map[leaf] = rw.append(g.nodes[leaf]) }
            sliceValues[i] = try emitMergedProjection(plan, g, rw)
        }
        if let r = replaced[i] {
            rw.map[i] = sliceValues[r.first]![r.index]
        } else if !skipped.contains(i) {
            rw.map[i] = rw.append(rw.remapped(n))
        }
    }
    return eliminateDeadCode(rw.finish())
}

/// Emits concat(weights) · x (+ concat(biases)) and one slice per member; returns the slices in member order.
private func emitMergedProjection(_ plan: (members: [Int], biases: [Int]?, transposeB: Bool), _ g: Graph, _ rw: GraphRewriter) throws -> [Value] {
    let first = g.nodes[plan.members[0]]
    let weights = plan.members.map { rw.mapped(g.nodes[$0].operands[1]) }
    let wcat = try rw.emit(.concat, weights, ["axis": .int(plan.transposeB ? 0 : 1)], like: first)
    var y = try rw.emit(.matmul, [rw.mapped(first.operands[0]), wcat], first.attributes, like: first)
    if let biases = plan.biases {
        let vectors = zip(plan.members, biases).map { m, b -> Value in
            let add = g.nodes[b]
            return rw.mapped(add.operands[0] == Value(m) ? add.operands[1] : add.operands[0])
        }
        let bcat = try rw.emit(.concat, vectors, ["axis": .int(0)], like: g.nodes[biases[0]])
        y = try rw.emit(.add, [y, bcat], like: g.nodes[biases[0]])
    }
    let shape = rw.result.type(of: y).shape
    var offset = 0
    var slices: [Value] = []
    for m in plan.members {
        let width = g.nodes[m].type.shape.last!
        var starts = [Int](repeating: 0, count: shape.count), limits = shape
        starts[shape.count - 1] = offset
        limits[shape.count - 1] = offset + width
        slices.append(try rw.emit(.slice, [y], ["starts": .ints(starts), "limits": .ints(limits)], like: g.nodes[m]))
        offset += width
    }
    return slices
}

// MARK: 3. residual add + layer norm

private func fuseAddLayerNorm(_ g: Graph) throws -> Graph {
    let uses = UseInfo(g)
    let rw = GraphRewriter(g)
    for (i, n) in g.nodes.enumerated() {
        let sum = n.operands.first.map { g[$0] }
        if n.op == .layerNorm, let sum, sum.op == .add, uses.single(n.operands[0]), sum.type.dtype.isFloat {
            rw.map[i] = try rw.emit(.addLayerNorm, (sum.operands + n.operands.dropFirst()).map(rw.mapped), n.attributes, like: n)
        } else {
            rw.map[i] = rw.append(rw.remapped(n))
        }
    }
    return eliminateDeadCode(rw.finish())
}

// MARK: 4. elementwise chains, reductions, matmul epilogues

/// Whether a node can be a member of an elementwise kernel: a float elementwise/broadcast op the expression
/// language has, or a compare/logical op (bool result). Integer arithmetic, casts and broadcast_to are not fused.
private func isMember(_ n: Node) -> Bool {
    guard n.op.spec.fusion == .elementwise || n.op.spec.fusion == .broadcast, FusedExpression.knows(n.op.mnemonic) else { return false }
    return n.type.dtype.isFloat || (n.type.dtype == .bool && (FusedExpression.booleanOps.contains(n.op.mnemonic) || n.op == .where))
}

private let reductionNames: [OpKind: String] = [.reduceSum: "sum", .reduceMax: "max", .reduceMean: "mean"]

private func fuseKernels(_ g: Graph, _ steps: FuseSteps) throws -> Graph {
    let uses = UseInfo(g)
    var group = [Int?](repeating: nil, count: g.nodes.count)  // root of the kernel a node was absorbed into
    var kernels: [Int: (members: Set<Int>, matmul: Int?)] = [:]
    for r in stride(from: g.nodes.count - 1, through: 0, by: -1) where group[r] == nil {
        let root = g.nodes[r]
        let isReduction = reductionNames[root.op] != nil && root.type.dtype.isFloat && steps.contains(.reductions)
        guard (isMember(root) && steps.contains(.kernels)) || isReduction else { continue }
        let iterationShape = isReduction ? g.type(of: root.operands[0]).shape : root.type.shape
        var members: Set<Int> = [r]
        var work = isReduction ? [root.operands[0].id] : root.operands.map(\.id)
        var matmul: Int?
        while let o = work.popLast() {
            guard group[o] == nil, !members.contains(o), !uses.isResult[o],
                  uses.users[o].allSatisfy({ members.contains($0) }) else { continue }
            let n = g.nodes[o]
            let broadcasts = n.operands.contains { g.type(of: $0).shape != iterationShape && g.type(of: $0).count > 1 }
            if isMember(n) && (steps.contains(.broadcastOperands) || !broadcasts) {
                members.insert(o)
                work += n.operands.map(\.id)
            } else if n.op == .matmul, !isReduction, matmul == nil, n.type == TensorType(n.type.dtype, root.type.shape) {
                matmul = o
            }
        }
        // Users were checked against the members known at the time; re-check now that the set is final.
        var stable = false
        while !stable {
            stable = true
            for m in members where m != r && !uses.users[m].allSatisfy({ members.contains($0) }) {
                members.remove(m)
                stable = false
            }
            if let mm = matmul, !uses.users[mm].allSatisfy({ members.contains($0) }) { matmul = nil }
        }
        if members.count == 1 && matmul == nil && !isReduction { continue }
        if isReduction && members.count == 1 { continue }
        for m in members { group[m] = r }
        if let mm = matmul { group[mm] = r }
        kernels[r] = (members, matmul)
    }
    let rw = GraphRewriter(g)
    for (i, n) in g.nodes.enumerated() {
        if let k = kernels[i] {
            rw.map[i] = try emitKernel(root: i, k.members, matmul: k.matmul, g, rw)
        } else if group[i] == nil {
            rw.map[i] = rw.append(rw.remapped(n))
        }
    }
    return rw.finish()
}

/// Emits the fused node for one kernel: its expression over the operands that come from outside.
private func emitKernel(root: Int, _ members: Set<Int>, matmul: Int?, _ g: Graph, _ rw: GraphRewriter) throws -> Value {
    let rootNode = g.nodes[root]
    let reduce = reductionNames[rootNode.op]
    for inlineConstants in [true, false] {
        var leaves: [Value] = []
        if let m = matmul { leaves = [Value(m)] }
        func leafIndex(_ v: Value) -> Int {
            if let k = leaves.firstIndex(of: v) { return k }
            leaves.append(v)
            return leaves.count - 1
        }
        func expression(_ v: Value) -> FusedExpression {
            let n = g[v]
            guard members.contains(v.id), !(reduce != nil && v.id == root) else {
                if inlineConstants, let c = n.splatValue, n.type.count == 1, n.type.dtype.isFloat || n.type.dtype == .bool { return .literal(c) }
                return .operand(leafIndex(v))
            }
            let name = n.op == .gelu && n.attributes.symbol("approximate") == "tanh" ? "gelu_tanh" : n.op.mnemonic
            return .apply(name, n.operands.map(expression))
        }
        let e = reduce != nil ? expression(rootNode.operands[0]) : expression(Value(root))
        var operands: [Value]
        var attributes: Attributes = ["expr": .string(e.description)]
        let op: OpKind
        if let m = matmul {
            let mm = g.nodes[m]
            operands = (mm.operands + leaves.dropFirst()).map(rw.mapped)
            attributes.merge(mm.attributes) { a, _ in a }
            op = .fusedMatmul
        } else {
            operands = leaves.map(rw.mapped)
            if let reduce {
                attributes["reduce"] = .symbol(reduce)
                attributes["axes"] = rootNode.attributes["axes"]
                if let kd = rootNode.attributes["keep_dims"] { attributes["keep_dims"] = kd }
                op = .fusedReduce
            } else {
                op = .fusedElementwise
            }
        }
        guard !operands.isEmpty else { continue }
        // Inlined literals must not change the kernel's shape; otherwise keep them as operands.
        if let t = try? inferType(op, operands.map { rw.result.type(of: $0) }, attributes), t == rootNode.type {
            return try rw.emit(op, operands, attributes, like: rootNode)
        }
    }
    throw GraphError(.build, "fuse: cannot build a kernel for \(rootNode.op.mnemonic) in scope '\(rootNode.scope)'")
}
