import Testing
@testable import GraphIR

/// A graph that uses every op of the registry at least once, built with the checked builder.
func everyOpGraph() throws -> Graph {
    let g = Graph(name: "every op")
    let x = try g.input("x", [2, 3])
    let w = try g.parameter("w", [4, 3], initializer: .normal(std: 0.02))
    let frozen = try g.parameter("frozen.bias", [4], role: .frozen, initializer: .uniform(low: -0.1, high: 0.1))
    let state = try g.parameter("adam.m", [4, 3], role: .state, initializer: .zeros)
    _ = try g.parameter("ones", [3], initializer: .ones)
    _ = try g.parameter("tn", [3], initializer: .truncatedNormal(std: 0.5))
    _ = try g.parameter("c", [3], initializer: .constant(-2.5))
    _ = try g.parameter("noinit", [1])
    let c = try g.constant(Tensor(.f32, [3], [0.5, -1.0e-7, 3.0]))
    let half = try g.constant(0.5)
    var last = x
    try g.scope("elementwise") {
        for op: OpKind in [.neg, .abs, .exp, .log, .sqrt, .rsqrt, .tanh, .erf, .sigmoid, .relu, .sin, .cos, .stopGradient] {
            last = try g.unary(op, last)
        }
        for op: OpKind in [.add, .sub, .mul, .div, .maximum, .minimum, .pow] { last = try g.binary(op, last, c) }
        last = try g.binary(.add, last, half)
    }
    var mask = try g.binary(.eq, x, c)
    for op: OpKind in [.ne, .lt, .le, .gt, .ge] { mask = try g.binary(.logicalOr, mask, try g.binary(op, x, c)) }
    mask = try g.binary(.logicalAnd, mask, try g.unary(.logicalNot, mask))
    let selected = try g.select(mask, x, last)
    let asInt = try g.cast(selected, to: .i32)
    _ = try g.reduceSum(selected, axes: [0])
    _ = try g.reduceMax(selected, axes: [-1], keepDims: true)
    _ = try g.reduceMean(selected, axes: [0, 1])
    _ = try g.argmax(selected, axis: 1)
    let r = try g.reshape(selected, [3, 2])
    let t = try g.transpose(r, [1, 0])
    let b = try g.broadcast(t, to: [5, 2, 3])
    let s = try g.slice(b, starts: [1, 0, 0], limits: [3, 2, 2])
    let p = try g.pad(s, low: [0, 1, 0], high: [1, 0, 2])
    _ = try g.concat([p, p], axis: -1)
    let ids = try g.iota([2, 2], axis: 1)
    let gathered = try g.gather(w, ids)
    _ = try g.scatterAdd(gathered, ids, axis: 0, size: 4)
    let y = try g.scope("fc") { try g.matmul(x, w, transposeB: true) }
    _ = try g.matmul(y, w)
    _ = try g.matmul(x, y, transposeA: true)
    _ = try g.matmul(w, y, transposeA: true, transposeB: true)
    let seed = try g.input("seed", [], .i32)
    _ = try g.randomUniform(seed: seed, shape: [2, 2])
    _ = try g.sampleCategorical(logits: y, seed: seed)
    _ = try g.softmax(y)
    _ = try g.logSoftmax(y, axis: 0)
    _ = try g.layerNorm(y, gamma: frozen, beta: frozen, eps: 1e-5)
    _ = try g.rmsNorm(y, gamma: frozen, eps: 1e-6)
    _ = try g.gelu(y, approximate: true)
    let labels = try g.input("labels", [2], .i32)
    let loss = try g.scope("loss") { try g.crossEntropy(logits: y, labels: labels, ignoreIndex: -1, labelSmoothing: 0.1) }
    let q = try g.input("q", [2, 4, 3, 8])
    let k = try g.input("k", [2, 2, 3, 8])
    let lens = try g.input("lens", [2], .i32)
    let bias = try g.input("bias", [1, 1, 3, 3])
    try g.scope("enc.layer.0.attn") {
        _ = try g.attention(q, k, k, mask: .causal, lens: lens, bias: bias)
        _ = try g.attention(q, k, k, lens: lens)
        _ = try g.attention(q, k, k, mask: .prefixCausal(2), scale: 0.125)
        _ = try g.attention(q, k, k, mask: .block([1, 2]), bias: bias)
        _ = try g.attention(q, k, k)
        _ = try g.attentionProbs(q, k, mask: .causal, lens: lens, bias: bias)
        _ = try g.matmul(bias, q)
    }
    try g.scope("fused") {
        let fe = try g.emit(.fusedElementwise, [x, c], ["expr": .string("where(gt($0, $1), gelu_tanh($0), mul(-1e4, $1))")])
        _ = try g.emit(.fusedReduce, [fe, c], ["expr": .string("exp(sub($0, $1))"), "reduce": .symbol("max"), "axes": .ints([1]),
                                               "keep_dims": .bool(true)])
        _ = try g.emit(.fusedMatmul, [x, w, frozen], ["expr": .string("gelu(add($0, $1))"), "transpose_b": .bool(true)])
        _ = try g.emit(.addLayerNorm, [y, frozen, frozen, frozen], ["eps": .float(1e-5)])
    }
    g.setNotes(loss, ["grad": .symbol("full"), "saved": .bool(true), "weird key": .floats([.infinity, -.infinity, 1e300])])
    g.output("loss", loss)
    g.output("ints", asInt)
    g.update("adam.m", try g.add(state, w))
    return g
}

@Suite struct TextRoundTripTests {
    @Test func everyOpRoundTrips() throws {
        let g = try everyOpGraph()
        let text = GraphPrinter.print(g)
        let parsed = try GraphParser.parse(text)
        #expect(GraphPrinter.print(parsed) == text)
        try Verifier.verify(g)
        try Verifier.verify(parsed)
    }

    @Test func everyRegisteredOpIsCovered() throws {
        let covered = Set(try everyOpGraph().nodes.map(\.op))
        for op in OpKind.allCases {
            #expect(covered.contains(op), "op \(op.mnemonic) has no round-trip coverage: add it to everyOpGraph()")
        }
    }

    @Test func locationsAndNodesSurvive() throws {
        let g = try everyOpGraph()
        let text = GraphPrinter.print(g, locations: true)
        #expect(text.contains(" loc \"GraphIRTests/TextRoundTripTests.swift:"))
        let parsed = try GraphParser.parse(text)
        #expect(GraphPrinter.print(parsed, locations: true) == text)
        #expect(parsed.nodes.count == g.nodes.count)
        for (a, b) in zip(parsed.nodes, g.nodes) where a.notes["weird key"] == nil {
            #expect(a == b)
        }
        #expect(parsed.outputs.map(\.name) == g.outputs.map(\.name))
        #expect(parsed.outputs.map(\.value) == g.outputs.map(\.value))
        #expect(parsed.updates.map(\.parameter) == g.updates.map(\.parameter))
        #expect(parsed.name == "every op")
    }

    @Test func printsTheDocumentedForms() throws {
        let text = GraphPrinter.print(try everyOpGraph())
        for fragment in [
            "graph \"every op\" {",
            "%0 = input {name = \"x\"} : f32[2, 3]",
            "%1 = parameter {init = normal(0.02), name = \"w\", role = trainable} : f32[4, 3]",
            "init = uniform(-0.1, 0.1)", "init = zeros", "init = ones", "init = truncated_normal(0.5)", "init = constant(-2.5)",
            "role = frozen", "role = state",
            "constant {value = [0.5, -1.0000000116860974e-07, 3.0]} : f32[3]",
            "{transpose_b = true} : f32[2, 4] scope \"fc\"",
            "{axes = [-1], keep_dims = true}",
            "{mask = causal & padding(%", "{mask = padding(%", "mask = prefix_causal(2)", "mask = block(1, 2)", "mask = none",
            "note {grad = full, saved = true, \"weird key\" = [inf, -inf, 1e+300]}",
            "scope \"enc.layer.0.attn\"",
            "output \"loss\" = %", "update \"adam.m\" = %",
        ] {
            #expect(text.contains(fragment), "missing: \(fragment)")
        }
    }

    @Test func paddingNamesTheLensOperand() throws {
        let g = try everyOpGraph()
        let lens = try #require(g.inputs.first { $0.name == "lens" }?.value)
        var padded = 0
        for (i, n) in g.nodes.enumerated() where n.attributes.mask("mask")?.keyPadding == true {
            #expect(GraphPrinter.nodeLine(n, index: i).contains("padding(\(lens))"), "\(GraphPrinter.nodeLine(n, index: i))")
            padded += 1
        }
        #expect(padded >= 3)
    }

    @Test func handWrittenNamesAreRenumbered() throws {
        let text = """
        // a tiny graph with named values
        graph "tiny" {
          %x = input {name = "x"} : f32[2, 3]   # the input
          %w = parameter {name = "w", role = trainable} : f32[3, 3]
          %xw = matmul(%x, %w) : f32[2, 3]
          output "y" = %xw
          update "w" = %w
        }
        """
        let g = try GraphParser.parse(text)
        #expect(GraphPrinter.print(g) == """
        graph "tiny" {
          %0 = input {name = "x"} : f32[2, 3]
          %1 = parameter {name = "w", role = trainable} : f32[3, 3]
          %2 = matmul(%0, %1) : f32[2, 3]
          output "y" = %2
          update "w" = %1
        }

        """)
    }

    @Test func stringsAndFloatsRoundTripExactly() throws {
        let g = Graph(name: "quote \" backslash \\ newline \n tab \t bell \u{7} é 🙂")
        let x = try g.input("x\"y", [2])
        let values: [Double] = [0.1, -0.0, Double.leastNonzeroMagnitude, .greatestFiniteMagnitude, Double(Float(0.1)), 1.0 / 3.0, 123456789.0]
        let c = try g.constant(Tensor(.f64, [values.count], values))
        g.setNotes(c, ["nan": .float(.nan), "s": .string("a\u{0}b"), "d": .dtype(.bool), "empty": .ints([])])
        g.output("x", x)
        let text = GraphPrinter.print(g)
        let parsed = try GraphParser.parse(text)
        #expect(GraphPrinter.print(parsed) == text)
        #expect(parsed.name == g.name)
        #expect(parsed.nodes[0].name == "x\"y")
        #expect(parsed.nodes[1].attributes.floats("value")!.map(\.bitPattern) == values.map(\.bitPattern))
        #expect(parsed.nodes[1].notes.string("s") == "a\u{0}b")
        #expect(parsed.nodes[1].notes.float("nan")!.isNaN)
    }
}
