import BLIP2
import BLIP2HF
import GraphAutodiff
import GraphIO
import GraphIR
import GraphNN
import GraphPasses
import GraphRuntime
import Testing

/// The stage-1 losses and every stage-1 gradient against the plain PyTorch reference of
/// Tools/make_stage1_fixture.py (LAVIS `Blip2Qformer.forward` semantics on transformers' BLIP-2 modules; the
/// `test` config, batch 4, text 7, fixed hard negatives), with the tolerances of the HF fixtures
/// (`ParityTolerance`): forward ≤ 1e-4·max(1, |ref|) element-wise, gradients ≤ 1e-3 of each tensor's largest entry.
@Suite("Stage-1 parity with the PyTorch reference")
struct Stage1ParityTests {
    static let folder = FixtureFolders.path("stage1")

    struct Fixture {
        var weights: [String: Tensor]
        var inputs: [String: Tensor]
        var reference: [String: Tensor]
        var shapes: BLIP2Shapes
    }

    static func load() throws -> Fixture {
        func file(_ name: String) throws -> [String: Tensor] { try SafetensorsFile(path: folder + "/" + name).allTensors() }
        let inputs = try file("inputs.safetensors")
        let ids = try #require(inputs["input_ids"])
        return Fixture(weights: try file("weights.safetensors"), inputs: inputs, reference: try file("outputs.safetensors"),
                       shapes: BLIP2Shapes(batch: ids.shape[0], textLength: ids.shape[1]))
    }

    /// The eval-mode stage-1 graph with given negatives, plus `grad.<name>` outputs for every trainable parameter.
    static func graphWithGradients(_ shapes: BLIP2Shapes) throws -> Graph {
        let forward = try BLIP2Model.build(config: .test(), stage: .one, mode: .eval, shapes: shapes, negatives: .given)
        let r = try gradients(of: try #require(forward.output("loss")), in: forward)
        let g = r.graph
        for (name, v) in r.gradients { g.output("grad." + name, v) }
        return g
    }

    static func run(_ g: Graph, _ f: Fixture, engine: String) throws -> [String: Tensor] {
        switch engine {
        case "interpreter":
            return try Interpreter().run(g, inputs: f.inputs, parameters: f.weights)
        default:
            var graph = g
            if engine == "optimized" {
                for pass in try ["canonicalize", "fold-masks", "cse", "fuse", "fold-masks", "dce"].map(Passes.named) {
                    graph = try pass.run(graph, PassContext())
                }
            }
            let store = ParameterStore()
            for p in graph.parameters {
                try store.set(p.name, try #require(f.weights[p.name], "no weight \(p.name) in the fixture"))
            }
            return try Executable(graph, parameters: store).run(f.inputs).all()
        }
    }

    /// Largest |ours − reference| per output; for gradients the worst tensor, relative to its largest entry
    /// (floored as in `ParityTolerance`), named in the result, also without the key biases (exactly-zero
    /// gradients, rounding noise on both sides).
    static func worstErrors(_ reference: [String: Tensor], _ candidate: [String: Tensor]) -> [String: Double] {
        var worst: [String: Double] = [:]
        var worstGradient = (key: "", error: 0.0), worstOther = (key: "", error: 0.0)
        for (key, r) in reference {
            guard let c = candidate[key], c.count == r.count else { continue }
            let d = zip(r.scalars, c.scalars).map { abs($0 - $1) }.max() ?? 0
            if key.hasPrefix("grad.") {
                let relative = d / max(r.scalars.map(abs).max() ?? 0, ParityTolerance.gradientFloor)
                if relative >= worstGradient.error { worstGradient = (key, relative) }
                if !key.hasSuffix(".key.bias"), relative >= worstOther.error { worstOther = (key, relative) }
            } else {
                worst[key] = d
            }
        }
        worst["worst gradient (\(worstGradient.key), relative)"] = worstGradient.error
        worst["worst gradient without key biases (\(worstOther.key), relative)"] = worstOther.error
        return worst
    }

    @Test("losses, similarities, logits and every stage-1 gradient match", arguments: ["interpreter", "executor", "optimized"])
    func lossesAndGradients(engine: String) throws {
        let f = try Self.load()
        let g = try Self.graphWithGradients(f.shapes)
        let outputs = try Self.run(g, f, engine: engine)
        let failures = ParityTolerance.failures(reference: f.reference, candidate: outputs)
        #expect(failures.isEmpty, "\(engine): \(failures.joined(separator: "\n"))")
        // Every trainable parameter of the graph has a reference gradient, and the reference has no other.
        let ours = Set(g.parameters.filter { $0.role == .trainable }.map { "grad." + $0.name })
        #expect(ours == Set(f.reference.keys.filter { $0.hasPrefix("grad.") }))
        #expect(ours.count > 100 && ours.contains("grad.temp") && ours.contains("grad.cls.predictions.bias"))
        if ProcessInfoShim.verbose {
            for (kind, e) in Self.worstErrors(f.reference, outputs).sorted(by: { $0.key < $1.key }) { print("stage1 \(engine) \(kind) \(e)") }
        }
    }

    @Test("the negatives matter: other negatives change loss_itm beyond tolerance, the rest stays")
    func otherNegativesFail() throws {
        var f = try Self.load()
        let forward = try BLIP2Model.build(config: .test(), stage: .one, mode: .eval, shapes: f.shapes, negatives: .given)
        let images = try #require(f.inputs["negative_images"])
        // Other valid negatives: a different image in every row, never the positive.
        let other: [Double] = [3, 3, 1, 2]
        #expect(images.shape == [4] && zip(images.scalars, other).allSatisfy { $0 != $1 })
        f.inputs["negative_images"] = Tensor(.i32, images.shape, other)
        let outputs = try Interpreter().run(forward, inputs: f.inputs, parameters: f.weights)
        let failures = ParityTolerance.failures(reference: f.reference.filter { !$0.key.hasPrefix("grad.") }, candidate: outputs)
        #expect(failures.contains { $0.hasPrefix("loss_itm:") } && failures.contains { $0.hasPrefix("itm_logits:") })
        #expect(!failures.contains { $0.hasPrefix("loss_itc:") || $0.hasPrefix("loss_itg:") }, "\(failures)")
    }

    @Test("given negatives must be i32[B]")
    func badNegativesAreABuildError() throws {
        let g = Graph(name: "bad")
        let nn = Layers(g, role: .trainable)
        let c = BLIP2Config.test().qformer
        let image = try g.input("image", [2, 17, 24])
        let ids = try g.input("ids", [2, 5], .i32)
        let mask = try g.input("mask", [2, 5], .i32)
        let wrong = try g.input("neg", [3], .i32)
        #expect(throws: GraphError.self) {
            try Stage1.build(nn, c, image: image, ids: ids, mask: mask, negatives: .given(images: wrong, texts: wrong), dropoutSeed: nil)
        }
    }
}
