import GraphIR
import Testing
@testable import GraphRuntime

/// A small MLP block: layer norm, two matmuls, GELU, residual, softmax, cross-entropy.
func mlpGraph(batch: Int = 6, width: Int = 24, hidden: Int = 40, classes: Int = 10) throws -> Graph {
    let g = Graph(name: "mlp")
    let x = try g.input("x", [batch, width])
    let labels = try g.input("labels", [batch], .i32)
    let w1 = try g.parameter("w1", [hidden, width], initializer: .normal(std: 0.2))
    let b1 = try g.parameter("b1", [hidden], initializer: .normal(std: 0.1))
    let w2 = try g.parameter("w2", [width, hidden], initializer: .normal(std: 0.2))
    let gamma = try g.parameter("ln.gamma", [width], role: .frozen, initializer: .ones)
    let head = try g.parameter("head", [classes, width], initializer: .normal(std: 0.2))
    let h = try g.layerNorm(x, gamma: gamma, eps: 1e-5)
    let a = try g.gelu(try g.add(try g.matmul(h, w1, transposeB: true), b1))
    let r = try g.add(x, try g.matmul(a, w2, transposeB: true))
    let logits = try g.matmul(try g.tanh(r), head, transposeB: true)
    g.output("probs", try g.softmax(logits))
    g.output("loss", try g.crossEntropy(logits: logits, labels: labels))
    return g
}

func mlpInputs(_ seed: UInt64, batch: Int = 6, width: Int = 24, classes: Int = 10) -> [String: Tensor] {
    var rng = TestRNG(seed)
    return ["x": Tensor(.f32, [batch, width], (0..<(batch * width)).map { _ in rng.uniform(-1, 1) }),
            "labels": Tensor(ints: (0..<batch).map { _ in rng.int(0..<classes) }, shape: [batch])]
}

@Suite struct ExecutorTests {
    @Test func mlpMatchesInterpreter() throws {
        let g = try mlpGraph()
        let problems = try compareWithInterpreter(g, inputs: mlpInputs(3), tolerance: gemm)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test func updatesAreWrittenBackStepAfterStep() throws {
        // w ← w − 0.1·(w − target)·x̄ : a step that reads w and writes it, over several steps.
        let g = Graph(name: "sgd")
        let x = try g.input("x", [4])
        let w = try g.parameter("w", [4], initializer: .normal(std: 1))
        let m = try g.parameter("m", [4], role: .state, initializer: .zeros)
        let grad = try g.mul(w, x)
        let m2 = try g.add(try g.binary(.mul, m, scalar: 0.9), grad)
        g.update("m", m2)
        g.update("w", try g.sub(w, try g.binary(.mul, m2, scalar: 0.1)))
        g.output("norm", try g.reduceSum(try g.mul(w, w), axes: [0]))
        var params = g.initialParameters(seed: 1)
        let store = ParameterStore()
        try store.load(params)
        let e = try Executable(g, parameters: store)
        let input = ["x": Tensor(floats: [1, 0.5, -0.25, 2], shape: [4])]
        for step in 0..<5 {
            let want = try Interpreter().run(g, inputs: input, parameters: params)
            let got = try e.run(input)
            #expect(mismatch(try got.tensor("norm"), want["norm"]!, sums) == nil, "step \(step)")
            params["w"] = want["update:w"]
            params["m"] = want["update:m"]
            #expect(mismatch(store.tensor("w")!, params["w"]!, sums) == nil, "step \(step)")
            #expect(mismatch(store.tensor("m")!, params["m"]!, sums) == nil, "step \(step)")
        }
    }

    @Test func swappingUpdatesDoNotClobberEachOther() throws {
        // a ← b and b ← a in one step: each update reads the other's buffer, which is also being written.
        let g = Graph(name: "swap")
        let a = try g.parameter("a", [3], initializer: .constant(1))
        let b = try g.parameter("b", [3], initializer: .constant(2))
        g.update("a", b)
        g.update("b", try g.reshape(try g.reshape(a, [1, 3]), [3]))
        g.output("a_before", a)
        let e = try Executable(g)
        let out = try e.run([:])
        #expect(try out.floats("a_before") == [1, 1, 1])
        #expect(e.parameters.floats("a") == [2, 2, 2])
        #expect(e.parameters.floats("b") == [1, 1, 1])
    }

    @Test func planReusesMemoryAndPrints() throws {
        let g = try mlpGraph(batch: 32, width: 64, hidden: 128)
        let p = try Program.lower(g)
        try p.plan.check()
        #expect(p.plan.arenaBytes < p.plan.unplannedBytes)
        #expect(p.plan.savedBytes > 0)
        #expect(p.steps.contains { $0.inPlace })
        let text = p.description
        #expect(text.contains("sgemm"))
        #expect(text.contains("peak arena bytes: \(p.plan.arenaBytes)"))
        #expect(text.contains("saved bytes: \(p.plan.savedBytes)"))
    }

    @Test func planCheckerRejectsOverlappingLiveBuffers() throws {
        let g = try mlpGraph()
        var plan = try Program.lower(g).plan
        // Find two arena buffers live at the same time and put them at the same offset.
        let arena = plan.buffers.indices.filter { plan.buffers[$0].region == .arena && plan.buffers[$0].bytes > 0 }
        var pair: (Int, Int)? = nil
        for i in arena { for j in arena where j > i && plan.buffers[i].overlapsInTime(plan.buffers[j]) { pair = pair ?? (i, j) } }
        let (i, j) = try #require(pair)
        plan.buffers[j].offset = plan.buffers[i].offset
        #expect(throws: RuntimeError.self) { try plan.check() }
    }

    @Test func profileCountsEveryKernelOfEveryStep() throws {
        let g = try mlpGraph()
        let plain = try Executable(g, options: RuntimeOptions(threads: 1))
        #expect(plain.profile == nil)
        let exe = try Executable(g, options: RuntimeOptions(threads: 1, profile: true))
        for seed in 1...3 { try exe.run(mlpInputs(UInt64(seed))) }
        let p = try #require(exe.profile)
        #expect(p.steps == 3)
        // Every kernel of the program ran once per step, and its time is counted under its op.
        #expect(p.rows.reduce(0) { $0 + $1.calls } == 3 * exe.program.kernelCount)
        #expect(p.rows.allSatisfy { $0.seconds >= 0 })
        #expect(p.rows.filter { $0.name.hasPrefix("matmul · ") }.reduce(0) { $0 + $1.calls } == 9)   // 3 matmuls × 3 steps
        #expect(zip(p.rows, p.rows.dropFirst()).allSatisfy { $0.seconds >= $1.seconds })
        let full = p.table(top: .max)
        #expect(full.contains("over 3 steps") && full.contains("matmul · ") && !full.contains("more)"))
        #expect(p.table(top: 3).split(separator: "\n").count == 2 + 3 + 1)   // title, header, 3 rows, the rest
    }

    @Test func sessionCachesOneExecutablePerGraph() throws {
        let g = try mlpGraph()
        let s = Session()
        let first = try s.executable(for: g)
        let again = try s.executable(for: g)
        #expect(first === again)
        let out = try s.run(g, mlpInputs(5))
        #expect(out["loss"]!.shape == [])
    }

    @Test func floatFastPathMatchesTensorPath() throws {
        let g = try mlpGraph()
        let e = try Executable(g)
        let inputs = mlpInputs(9)
        let a = try e.run(inputs).tensor("loss")
        let b = try e.run(floats: ["x": inputs["x"]!.floats], others: ["labels": inputs["labels"]!]).tensor("loss")
        #expect(a == b)
    }
}

@Suite struct BadInputTests {
    let g: Graph
    let e: Executable
    init() throws {
        g = try mlpGraph()
        e = try Executable(g, options: RuntimeOptions(checkFinite: ["loss"]))
    }

    func expectError(_ kind: RuntimeError.Kind, containing text: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected a \(kind) error mentioning '\(text)'")
        } catch let e as RuntimeError {
            #expect(e.kind == kind, "\(e)")
            #expect(e.message.contains(text), "\(e)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func missingInput() {
        var inputs = mlpInputs(1)
        inputs["labels"] = nil
        expectError(.badInput, containing: "missing input 'labels'") { try e.run(inputs) }
    }

    @Test func unknownInput() {
        var inputs = mlpInputs(1)
        inputs["lables"] = Tensor(ints: [1], shape: [1])
        expectError(.unknownName, containing: "unknown input 'lables'") { try e.run(inputs) }
    }

    @Test func wrongShapeAndDtype() {
        var inputs = mlpInputs(1)
        inputs["x"] = Tensor(.f32, [6, 23], repeating: 0)
        expectError(.badInput, containing: "expected f32[6, 24], got f32[6, 23]") { try e.run(inputs) }
        inputs = mlpInputs(1)
        inputs["labels"] = Tensor(.f32, [6], repeating: 0)
        expectError(.badInput, containing: "expected i32[6], got f32[6]") { try e.run(inputs) }
        expectError(.badInput, containing: "expected f32[6, 24], got 5 f32 values") {
            try e.run(floats: ["x": [1, 2, 3, 4, 5]], others: ["labels": mlpInputs(1)["labels"]!])
        }
    }

    @Test func labelOutOfRangeNamesTheKernel() {
        var inputs = mlpInputs(1)
        inputs["labels"] = Tensor(ints: [0, 1, 2, 3, 4, 99], shape: [6])
        expectError(.badData, containing: "cross_entropy") { try e.run(inputs) }
        expectError(.badData, containing: "label 99 at row 5") { try e.run(inputs) }
    }

    @Test func gatherIndexOutOfRange() throws {
        let g = Graph()
        let table = try g.parameter("emb", [5, 3], initializer: .normal(std: 1))
        g.output("y", try g.gather(table, try g.input("ids", [4], .i32)))
        let e = try Executable(g)
        expectError(.badData, containing: "index 7 at position 2") { try e.run(["ids": Tensor(ints: [0, 1, 7, 2], shape: [4])]) }
        expectError(.badData, containing: "index -1") { try e.run(["ids": Tensor(ints: [0, -1, 1, 2], shape: [4])]) }
    }

    @Test func nonFiniteLossIsReportedAndNoUpdateWritten() throws {
        let g = Graph()
        let x = try g.input("x", [3])
        let w = try g.parameter("w", [3], initializer: .ones)
        let loss = try g.reduceSum(try g.log(try g.mul(x, w)), axes: [0])
        g.output("loss", loss)
        g.update("w", try g.binary(.mul, w, scalar: 2))
        let e = try Executable(g, options: RuntimeOptions(checkFinite: ["loss"]))
        expectError(.nonFinite, containing: "output 'loss' holds") { try e.run(["x": Tensor(floats: [1, -1, 2], shape: [3])]) }
        #expect(e.parameters.floats("w") == [1, 1, 1])
        _ = try e.run(["x": Tensor(floats: [1, 1, 2], shape: [3])])
        #expect(e.parameters.floats("w") == [2, 2, 2])
    }

    @Test func unknownOutputAndStaleOutputs() throws {
        let out = try e.run(mlpInputs(1))
        expectError(.unknownName, containing: "unknown output 'logits'") { _ = try out.tensor("logits") }
        _ = try e.run(mlpInputs(2))
        expectError(.badInput, containing: "overwritten") { _ = try out.tensor("loss") }
    }

    @Test func checkFiniteOnUnknownOutput() {
        expectError(.unknownName, containing: "checkFinite names 'lost'") {
            _ = try Executable(g, options: RuntimeOptions(checkFinite: ["lost"]))
        }
    }

    @Test func parameterOfTheWrongType() throws {
        let store = ParameterStore()
        try store.set("w1", Tensor(.f32, [3], repeating: 0))
        expectError(.badInput, containing: "parameter 'w1' is f32[3], got f32[40, 24]") { _ = try Executable(g, parameters: store) }
    }

    @Test func illTypedGraphFailsAtLowering() throws {
        let g = Graph()
        let x = try g.input("x", [2, 3])
        // Append a node whose declared type contradicts its op's rule.
        let bad = g.append(Node(op: .exp, operands: [x], type: TensorType(.f32, [3, 2])))
        g.output("y", bad)
        expectError(.lowering, containing: "exp") { _ = try Program.lower(g) }
    }
}
