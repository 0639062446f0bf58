import GraphIR
@testable import GraphPasses

/// Deterministic numbers for tests (SplitMix64).
struct SeededRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func tensor(_ t: TensorType, scale: Double = 1) -> Tensor {
        switch t.dtype {
        case .i32: return Tensor(.i32, t.shape, (0..<t.count).map { _ in Double(int(4)) })
        case .bool: return Tensor(.bool, t.shape, (0..<t.count).map { _ in Double(int(2)) })
        default: return Tensor(t.dtype, t.shape, (0..<t.count).map { _ in (uniform() * 2 - 1) * scale })
        }
    }
}

/// A graph with the values to run it.
struct TestModel {
    var name: String
    var graph: Graph
    var inputs: [String: Tensor]
    var parameters: [String: Tensor]
}

/// Random values for every input and parameter of `g`.
func randomBindings(_ g: Graph, seed: UInt64) -> (inputs: [String: Tensor], parameters: [String: Tensor]) {
    var rng = SeededRandom(seed)
    var inputs: [String: Tensor] = [:], parameters: [String: Tensor] = [:]
    for n in g.nodes {
        if n.op == .input, let name = n.name { inputs[name] = rng.tensor(n.type) }
        if n.op == .parameter, let name = n.name { parameters[name] = rng.tensor(n.type, scale: 0.5) }
    }
    return (inputs, parameters)
}

enum TestModels {
    /// A two-layer MLP with a cross-entropy loss.
    static func mlp() throws -> TestModel {
        let g = Graph(name: "mlp")
        let x = try g.input("x", [4, 8])
        let labels = try g.input("labels", [4], .i32)
        let h = try g.scope("fc1") {
            let w = try g.parameter("fc1.weight", [8, 16])
            let b = try g.parameter("fc1.bias", [16])
            return try g.gelu(try g.add(try g.matmul(x, w), b))
        }
        let logits = try g.scope("fc2") {
            let w = try g.parameter("fc2.weight", [16, 5])
            let b = try g.parameter("fc2.bias", [5])
            return try g.add(try g.matmul(h, w), b)
        }
        g.output("logits", logits)
        g.output("loss", try g.crossEntropy(logits: logits, labels: labels))
        var (inputs, params) = randomBindings(g, seed: 1)
        inputs["labels"] = Tensor(ints: [0, 3, 1, 4], shape: [4])
        return TestModel(name: "mlp", graph: g, inputs: inputs, parameters: params)
    }

    /// A post-LN transformer block written the long way: separate Q/K/V projections, explicit scores, a causal
    /// mask built from iota and compare, softmax, residual adds and layer norms.
    static func transformerBlock(batch: Int = 2, length: Int = 6, width: Int = 8, heads: Int = 2) throws -> TestModel {
        let g = Graph(name: "transformer_block")
        let (b, l, d, h) = (batch, length, width, heads)
        let hd = d / h
        let x = try g.input("x", [b, l, d])
        func linear(_ name: String, _ v: Value, _ n: Int, _ m: Int) throws -> Value {
            try g.scope(name) {
                try g.add(try g.matmul(v, try g.parameter("\(name).weight", [n, m])), try g.parameter("\(name).bias", [m]))
            }
        }
        func heads4(_ v: Value) throws -> Value { try g.transpose(try g.reshape(v, [b, l, h, hd]), [0, 2, 1, 3]) }
        let attn = try g.scope("attention") { () throws -> Value in
            let q = try heads4(try linear("q", x, d, d))
            let k = try heads4(try linear("k", x, d, d))
            let v = try heads4(try linear("v", x, d, d))
            let scores = try g.binary(.mul, try g.matmul(q, k, transposeB: true), scalar: 1 / Double(hd).squareRoot())
            let row = try g.iota([l, l], axis: 0), col = try g.iota([l, l], axis: 1)
            let visible = try g.binary(.le, col, row)
            let mask = try g.select(visible, try g.constant(0, shape: [l, l]), try g.constant(-1e9, shape: [l, l]))
            let p = try g.softmax(try g.add(scores, mask), axis: -1)
            let ctx = try g.reshape(try g.transpose(try g.matmul(p, v), [0, 2, 1, 3]), [b, l, d])
            return try linear("o", ctx, d, d)
        }
        let ln1 = try g.scope("ln1") {
            try g.layerNorm(try g.add(attn, x), gamma: try g.parameter("ln1.gamma", [d]), beta: try g.parameter("ln1.beta", [d]), eps: 1e-5)
        }
        let ff = try g.scope("mlp") { try linear("fc2", try g.gelu(try linear("fc1", ln1, d, 2 * d)), 2 * d, d) }
        let out = try g.scope("ln2") {
            try g.layerNorm(try g.add(ff, ln1), gamma: try g.parameter("ln2.gamma", [d]), beta: try g.parameter("ln2.beta", [d]), eps: 1e-5)
        }
        g.output("y", out)
        g.output("loss", try g.reduceMean(try g.mul(out, out), axes: [0, 1, 2]))
        let (inputs, params) = randomBindings(g, seed: 2)
        return TestModel(name: "transformer_block", graph: g, inputs: inputs, parameters: params)
    }

    /// Attention written with the `attention` op and a padding bias from key lengths:
    /// `where(iota < lens[b], 0, -1e4)` broadcast over heads and queries.
    static func paddedAttention(batch: Int = 3, length: Int = 5, heads: Int = 2, dim: Int = 4) throws -> TestModel {
        let g = Graph(name: "padded_attention")
        let shape = [batch, heads, length, dim]
        let q = try g.input("q", shape), k = try g.input("k", shape), v = try g.input("v", shape)
        let lens = try g.input("lens", [batch], .i32)
        let keyIndex = try g.iota([batch, 1, 1, length], axis: 3)
        let valid = try g.binary(.lt, keyIndex, try g.reshape(lens, [batch, 1, 1, 1]))
        let bias = try g.select(valid, try g.constant(0, shape: []), try g.constant(-1e4, shape: []))
        let full = try g.broadcast(bias, to: [batch, heads, length, length])
        g.output("out", try g.attention(q, k, v, bias: full))
        var (inputs, params) = randomBindings(g, seed: 3)
        inputs["lens"] = Tensor(ints: (0..<batch).map { 1 + ($0 * 2) % length }, shape: [batch])
        return TestModel(name: "padded_attention", graph: g, inputs: inputs, parameters: params)
    }

    /// A frozen encoder (image features) feeding a trainable head; the head's output passes through a frozen layer.
    static func frozenEncoder() throws -> TestModel {
        let g = Graph(name: "frozen_encoder")
        let image = try g.input("image", [2, 6])
        let text = try g.input("text", [2, 4])
        let features = try g.scope("encoder") {
            let w = try g.parameter("enc.weight", [6, 4], role: .frozen)
            let wt = try g.transpose(try g.parameter("enc.weight_t", [4, 6], role: .frozen), [1, 0])
            let scale = try g.binary(.mul, try g.parameter("enc.scale", [4], role: .frozen), scalar: 2)
            return try g.mul(try g.tanh(try g.add(try g.matmul(image, w), try g.matmul(image, wt))), scale)
        }
        let head = try g.scope("head") {
            try g.add(try g.add(try g.matmul(features, try g.parameter("head.weight", [4, 4])), try g.parameter("head.bias", [4])), text)
        }
        let out = try g.scope("frozen_out") { try g.matmul(head, try g.parameter("out.weight", [4, 3], role: .frozen)) }
        g.output("out", out)
        g.output("loss", try g.reduceSum(try g.mul(out, out), axes: [0, 1]))
        let (inputs, params) = randomBindings(g, seed: 4)
        return TestModel(name: "frozen_encoder", graph: g, inputs: inputs, parameters: params)
    }

    static func all() throws -> [TestModel] { [try mlp(), try transformerBlock(), try paddedAttention(), try frozenEncoder()] }
}

/// Runs `g` and `h` on the interpreter with the same bindings; returns the largest output difference.
func maxOutputDifference(_ g: Graph, _ h: Graph, inputs: [String: Tensor], parameters: [String: Tensor]) throws -> Double {
    let a = try Interpreter().run(g, inputs: inputs, parameters: parameters)
    let b = try Interpreter().run(h, inputs: inputs, parameters: parameters)
    precondition(Set(a.keys) == Set(b.keys), "outputs differ: \(a.keys.sorted()) vs \(b.keys.sorted())")
    var m = 0.0
    for (k, t) in a {
        guard let u = b[k], u.type == t.type else { return .infinity }
        m = max(m, maxAbsDifference(t, u))
    }
    return m
}

/// Re-infers every node's type and checks SSA order (used until the IR verifier is on main).
func checkWellFormed(_ g: Graph) throws {
    for (i, n) in g.nodes.enumerated() {
        for o in n.operands where o.id >= i { throw GraphError(.verify, "%\(i) uses \(o) before it is defined") }
        let t = try inferType(n.op, n.operands.map { g.type(of: $0) }, n.attributes, declared: n.type)
        if t != n.type { throw GraphError(.verify, "%\(i) \(n.op.mnemonic) declares \(n.type) but infers \(t)") }
    }
    for v in g.outputs.map(\.value) + g.updates.map(\.value) where v.id >= g.nodes.count {
        throw GraphError(.verify, "result \(v) out of range")
    }
}
