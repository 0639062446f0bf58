import GraphIR
import GraphNN
import Testing

/// Deterministic pseudo-random tensor for test inputs.
func sampleTensor(_ shape: [Int], seed: Int, scale: Double = 1) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(.f32, shape, (0..<n).map { i in
        let x = Double((i &* 2_654_435_761 &+ seed &* 97_531) % 1000) / 1000
        return (x - 0.5) * 2 * scale
    })
}

@Suite struct LayerTests {
    @Test func linearUsesOutInWeightsAndHuggingFaceNames() throws {
        let g = Graph()
        let nn = Layers(g)
        let x = try g.input("x", [2, 3, 4])
        let y = try g.scope("encoder.layer.0") { try nn.linear(x, outFeatures: 5, name: "attention.query") }
        g.output("y", y)
        let names = Set(g.parameters.map(\.name))
        #expect(names == ["encoder.layer.0.attention.query.weight", "encoder.layer.0.attention.query.bias"])
        #expect(g.type(of: y).shape == [2, 3, 5])
        #expect(g[y].scope == "encoder.layer.0.attention.query")
        let w = sampleTensor([5, 4], seed: 1), b = sampleTensor([5], seed: 2), xs = sampleTensor([2, 3, 4], seed: 3)
        let out = try Interpreter().run(g, inputs: ["x": xs], parameters: ["encoder.layer.0.attention.query.weight": w,
                                                                          "encoder.layer.0.attention.query.bias": b])["y"]!
        for r in 0..<6 {
            for o in 0..<5 {
                var acc = b.scalars[o]
                for i in 0..<4 { acc += xs.scalars[r * 4 + i] * w.scalars[o * 4 + i] }
                #expect(abs(out.scalars[r * 5 + o] - acc) < 1e-5)
            }
        }
    }

    @Test func frozenBuilderMakesFrozenParameters() throws {
        let g = Graph()
        let x = try g.input("x", [2, 4])
        _ = try Layers(g).with(role: .frozen).layerNorm(x, name: "ln", eps: 1e-5)
        #expect(g.parameters.allSatisfy { $0.role == .frozen })
        #expect(g.parameters.count == 2)
    }

    /// Evaluates the tensor form of a mask pattern and returns it as rows of 0/1.
    func visibility(_ pattern: MaskPattern, lq: Int, lk: Int, lens: [Int]? = nil) throws -> [[Int]] {
        let g = Graph()
        let nn = Layers(g)
        let l = try lens.map { try g.input("lens", [$0.count], .i32) }
        let m = try nn.visibilityMatrix(pattern, lq: lq, lk: lk, lens: l)
        g.output("m", m)
        var inputs: [String: Tensor] = [:]
        if let lens { inputs["lens"] = Tensor(ints: lens, shape: [lens.count]) }
        let t = try Interpreter().run(g, inputs: inputs, parameters: [:])["m"]!
        return (0..<lq).map { i in (0..<lk).map { Int(t.scalars[i * lk + $0]) } }
    }

    @Test func maskTensorsMatchTheAttributeSemantics() throws {
        let patterns: [MaskPattern] = [.none, .causal, .prefixCausal(2), .block([2, 3])]
        for p in patterns {
            let m = try visibility(p, lq: 5, lk: 5)
            for i in 0..<5 { for j in 0..<5 {
                #expect((m[i][j] == 1) == AttentionMask(p).allows(query: i, key: j, lq: 5, lk: 5))
            } }
        }
        #expect(try visibility(.prefixCausal(2), lq: 4, lk: 4, lens: [3]) == [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0]])
    }

    @Test func additiveMaskAttentionEqualsAttributeAttention() throws {
        let g = Graph()
        let nn = Layers(g)
        let q = try g.input("q", [2, 2, 4, 3]), k = try g.input("k", [2, 2, 4, 3]), v = try g.input("v", [2, 2, 4, 3])
        let lens = try g.input("lens", [2], .i32)
        g.output("attr", try g.attention(q, k, v, mask: .prefixCausal(2), lens: lens))
        let bias = try nn.additiveMask(.prefixCausal(2), lq: 4, lk: 4, lens: lens)
        g.output("tensor", try g.attention(q, k, v, bias: bias))
        let r = try Interpreter().run(g, inputs: ["q": sampleTensor([2, 2, 4, 3], seed: 1), "k": sampleTensor([2, 2, 4, 3], seed: 2),
                                                  "v": sampleTensor([2, 2, 4, 3], seed: 3), "lens": Tensor(ints: [4, 3], shape: [2])],
                                      parameters: [:])
        #expect(maxAbsDifference(r["attr"]!, r["tensor"]!) < 1e-6)
    }

    @Test func rotaryLayoutsAreTheSameRotationUpToAPermutation() throws {
        // Adjacent-pair layout on x equals half-rotation on x with dims permuted (evens first, then odds).
        let d = 4
        let g = Graph()
        let x = try g.input("x", [1, 1, 3, d]), xp = try g.input("xp", [1, 1, 3, d])
        let pos = try g.iota([3], axis: 0)
        g.output("pairs", try RotaryEmbedding(dim: d, pairing: .adjacentPairs).apply(g, x, positions: pos))
        g.output("half", try RotaryEmbedding(dim: d, pairing: .halfRotation).apply(g, xp, positions: pos))
        let xs = sampleTensor([1, 1, 3, d], seed: 5)
        let perm = [0, 2, 1, 3]
        let permuted = Tensor(.f32, [1, 1, 3, d], (0..<3).flatMap { r in perm.map { xs.scalars[r * d + $0] } })
        let out = try Interpreter().run(g, inputs: ["x": xs, "xp": permuted], parameters: [:])
        for r in 0..<3 { for (j, src) in perm.enumerated() {
            #expect(abs(out["half"]!.scalars[r * d + j] - out["pairs"]!.scalars[r * d + src]) < 1e-6)
        } }
        // Position 0 is the identity; rotation keeps the norm.
        for j in 0..<d { #expect(abs(out["pairs"]!.scalars[j] - xs.scalars[j]) < 1e-7) }
        let n0 = (0..<d).map { xs.scalars[d + $0] * xs.scalars[d + $0] }.reduce(0, +)
        let n1 = (0..<d).map { out["pairs"]!.scalars[d + $0] * out["pairs"]!.scalars[d + $0] }.reduce(0, +)
        #expect(abs(n0 - n1) < 1e-5)
    }

    @Test func dropoutIsIdentityInEvalAndKeepsTheRateInTraining() throws {
        let g = Graph()
        let nn = Layers(g)
        let x = try g.input("x", [4000])
        #expect(try nn.dropout(x, rate: 0.1, seed: nil) == x)
        let seed = try g.input("seed", [], .i32)
        g.output("y", try nn.dropout(x, rate: 0.25, seed: seed))
        let y = try Interpreter().run(g, inputs: ["x": Tensor(.f32, [4000], repeating: 1), "seed": Tensor(scalar: 7, dtype: .i32)],
                                      parameters: [:])["y"]!
        let kept = y.scalars.filter { $0 != 0 }
        #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
        // 4000 Bernoulli(0.75) draws: sd ≈ 27, so ±150 is > 5 sd.
        #expect(abs(kept.count - 3000) < 150)
    }

    @Test func causalLMLossShiftsAndIgnores() throws {
        let g = Graph()
        let nn = Layers(g)
        let logits = try g.input("logits", [1, 3, 4]), labels = try g.input("labels", [1, 3], .i32)
        g.output("loss", try nn.causalLMLoss(logits: logits, labels: labels, labelSmoothing: 0.1))
        let lg = sampleTensor([1, 3, 4], seed: 9)
        let out = try Interpreter().run(g, inputs: ["logits": lg, "labels": Tensor(ints: [3, 2, -100], shape: [1, 3])],
                                        parameters: [:])["loss"]!
        // Only position 0 predicts label 2 (position 1 predicts an ignored label).
        let row = Array(lg.scalars[0..<4])
        let m = row.max()!
        let lse = m + Foundation_log(row.map { Foundation_exp($0 - m) }.reduce(0, +))
        let lp = row.map { $0 - lse }
        let expected = -0.9 * lp[2] - 0.1 * lp.reduce(0, +) / 4
        #expect(abs(out.scalar - expected) < 1e-5)
    }

    @Test func groupedQueryAttentionShapesAndNames() throws {
        let g = Graph()
        let nn = Layers(g, role: .frozen)
        let x = try g.input("x", [2, 5, 16])
        let r = try g.scope("self_attn") {
            try nn.multiHeadAttention(x, layout: HeadLayout(heads: 4, kvHeads: 2, headDim: 4), names: .llama,
                                      options: AttentionOptions(mask: .causal, rotary: RotaryEmbedding(dim: 4), positions: g.iota([5], axis: 0)))
        }
        #expect(g.type(of: r.output).shape == [2, 5, 16])
        #expect(g.type(of: r.keys).shape == [2, 2, 5, 4])
        let shapes = Dictionary(uniqueKeysWithValues: g.parameters.map { ($0.name, g.type(of: $0.value).shape) })
        #expect(shapes == ["self_attn.q_proj.weight": [16, 16], "self_attn.k_proj.weight": [8, 16],
                           "self_attn.v_proj.weight": [8, 16], "self_attn.o_proj.weight": [16, 16]])
    }

    @Test func badInputIsAClearError() throws {
        let g = Graph()
        let nn = Layers(g)
        let x = try g.input("x", [2, 5, 15])
        #expect(throws: GraphError.self) { try nn.splitHeads(x, heads: 4, headDim: 4) }
        #expect(throws: GraphError.self) { try nn.existingParameter("nope") }
    }
}

#if canImport(Glibc)
import Glibc
#endif
func Foundation_log(_ x: Double) -> Double { log(x) }
func Foundation_exp(_ x: Double) -> Double { exp(x) }
