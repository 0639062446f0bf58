import BLIP2
import GraphAutodiff
import GraphIR
import GraphRuntime
import Testing
@testable import GraphPasses

/// The executor runs fused programs and matches unfused ones (and the interpreter on the fused graph).
/// Tolerance: 1e-4 relative to max(1, |value|); the executor's f32 kernels (BLAS GEMMs, vectorized exp/tanh)
/// round differently from the interpreter's per-op rounding.
@Suite struct FusedExecutionTests {
    static func run(_ g: Graph, _ inputs: [String: Tensor], _ parameters: [String: Tensor]) throws -> [String: Tensor] {
        let store = ParameterStore()
        for p in g.parameters { if let t = parameters[p.name] { try store.set(p.name, t) } }
        return try Executable(g, parameters: store, options: RuntimeOptions(threads: 1)).run(inputs).all()
    }

    static func maxRelative(_ a: [String: Tensor], _ b: [String: Tensor]) -> Double {
        var m = 0.0
        for (k, t) in a {
            guard let u = b[k], u.shape == t.shape else { return .infinity }
            for (x, y) in zip(t.scalars, u.scalars) { m = max(m, abs(x - y) / max(1, abs(x))) }
        }
        return m
    }

    func check(_ g: Graph, _ inputs: [String: Tensor], _ parameters: [String: Tensor], pipeline: String) throws {
        let ctx = PassContext(parameterValues: parameters)
        let (fused, _) = try PassManager(passes: try Passes.parseList(pipeline), verify: Verifier.verify, render: { _ in "" })
            .run(g, context: ctx)
        #expect(fused.nodes.contains { [.fusedMatmul, .fusedElementwise, .fusedReduce, .addLayerNorm].contains($0.op) })
        let plain = try Self.run(g, inputs, parameters)
        let optimized = try Self.run(fused, inputs, ctx.parameterValues)
        let reference = try Interpreter().run(fused, inputs: inputs, parameters: ctx.parameterValues)
        #expect(Self.maxRelative(plain, optimized) <= 1e-4, "\(g.name): fused vs unfused on the executor")
        #expect(Self.maxRelative(reference, optimized) <= 1e-4, "\(g.name): executor vs interpreter on the fused graph")
    }

    @Test(arguments: ["mlp", "transformer_block", "frozen_encoder"])
    func fusedModelsMatchUnfused(_ name: String) throws {
        let m = try TestModels.all().first { $0.name == name }!
        try check(m.graph, m.inputs, m.parameters, pipeline: "inference")
    }

    @Test func fusedTrainingStepMatchesUnfused() throws {
        let m = try TestModels.transformerBlock()
        let training = try gradients(of: try #require(m.graph.output("loss")), in: m.graph).graph
        try check(training, m.inputs, m.parameters, pipeline: "training-post-ad")
    }

    @Test func fusedBLIP2StageOneMatchesUnfused() throws {
        let g = try BLIP2PassTests.graph()
        let (inputs, parameters) = BLIP2PassTests.bindings(g)
        try check(g, inputs, parameters, pipeline: "inference")
    }
}
