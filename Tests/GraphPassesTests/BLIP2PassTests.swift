import BLIP2
import GraphAutodiff
import GraphIR
import Testing
@testable import GraphPasses

/// The passes on the BLIP-2 stage-1 graph (`test` config, small enough for the interpreter).
@Suite struct BLIP2PassTests {
    static func graph() throws -> Graph {
        try BLIP2Model.build(config: .test(), stage: .one, mode: .eval, shapes: BLIP2Shapes(batch: 2, textLength: 5))
    }

    static func bindings(_ g: Graph) -> (inputs: [String: Tensor], parameters: [String: Tensor]) {
        var (inputs, parameters) = randomBindings(g, seed: 21)
        inputs["input_ids"] = Tensor(ints: [2, 5, 7, 9, 1, 2, 8, 4, 1, 1], shape: [2, 5])
        inputs["attention_mask"] = Tensor(ints: [1, 1, 1, 1, 1, 1, 1, 1, 0, 0], shape: [2, 5])
        inputs["sampling_seed"] = Tensor(scalar: 3, dtype: .i32)
        return (inputs, parameters)
    }

    @Test func pipelinesKeepMeaningAndLeaveNoDenseMask() throws {
        let g = try Self.graph()
        let (inputs, parameters) = Self.bindings(g)
        let ctx = PassContext(parameterValues: parameters)
        let pre = try PassManager(passes: try Passes.parseList("training"), verify: Verifier.verify, render: { _ in "" }).run(g, context: ctx)
        #expect(try maxOutputDifference(g, pre.graph, inputs: inputs, parameters: ctx.parameterValues) <= 1e-5)
        // After fold-masks no [B, H, Lq, Lk] mask tensor feeds an attention.
        for n in pre.graph.nodes where n.op == .attention {
            let mask = n.attributes.mask("mask")!
            #expect(n.operands.count == (mask.keyPadding ? 4 : 3), "attention in \(n.scope) still has a bias")
        }
        let post = try PassManager(passes: try Passes.parseList("training-post-ad"), verify: Verifier.verify, render: { _ in "" })
            .run(pre.graph, context: ctx)
        #expect(try maxOutputDifference(g, post.graph, inputs: inputs, parameters: ctx.parameterValues) <= 1e-4)
        let ops = Set(post.graph.nodes.map(\.op))
        #expect(ops.isSuperset(of: [.fusedMatmul, .fusedElementwise, .addLayerNorm]), "\(ops)")
        #expect(GraphStats(post.graph).kernels < GraphStats(g).kernels)
    }

    @Test func frozenImageEncoderIsTheFrozenPrefix() throws {
        let g = try Self.graph()
        let split = splitFrozenPrefix(g)
        // The ViT reads the pixels and frozen weights only; the rest no longer reads pixels or ViT weights.
        #expect(split.prefix.inputs.map(\.name) == ["pixel_values"])
        #expect(split.prefix.parameters.allSatisfy { $0.role == .frozen })
        #expect(!split.rest.inputs.contains { $0.name == "pixel_values" })
        #expect(!split.rest.parameters.contains { $0.role == .frozen })
        let (inputs, parameters) = Self.bindings(g)
        let features = try Interpreter().run(split.prefix, inputs: inputs, parameters: parameters)
        let direct = try Interpreter().run(g, inputs: inputs, parameters: parameters)
        let viaSplit = try Interpreter().run(split.rest, inputs: inputs.merging(features) { a, _ in a }, parameters: parameters)
        for (k, t) in direct { #expect(viaSplit[k] == t, "\(k)") }
    }

    @Test func trainingGraphFusesAfterAutodiff() throws {
        let g = try Self.graph()
        let trainingGraph = try gradients(of: try #require(g.output("loss")), in: g).graph
        let (inputs, parameters) = Self.bindings(g)
        let ctx = PassContext(parameterValues: parameters)
        let (out, records) = try PassManager(passes: try Passes.parseList("training-post-ad"), verify: Verifier.verify,
                                             render: { _ in "" }).run(trainingGraph, context: ctx)
        #expect(records.last!.after.kernels < records.first!.before.kernels)
        #expect(try maxOutputDifference(trainingGraph, out, inputs: inputs, parameters: ctx.parameterValues) <= 1e-4)
    }
}
