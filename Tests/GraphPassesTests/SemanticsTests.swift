import GraphIR
import Testing
@testable import GraphPasses

/// Each pass keeps meaning: the interpreter gives the same outputs before and after.
/// Tolerances: every pass is exact (0) except `fuse`, whose attention step skips the f32 rounding of the
/// intermediate scores: 1e-5 absolute on these O(1) values.
@Suite struct SemanticsTests {
    static let tolerance: [String: Double] = ["canonicalize": 0, "cse": 0, "dce": 0, "freeze": 0, "fold-masks": 0, "fuse": 1e-5]

    /// Checks every pass and pipeline on `model`; returns the passes that changed the graph.
    @discardableResult
    func checkEveryPass(_ model: TestModel) throws -> Set<String> {
        let context = PassContext(parameterValues: model.parameters)
        var changed = Set<String>()
        for pass in Passes.all {
            let out = try pass.run(model.graph, context)
            try checkWellFormed(out)
            if debugDump(out) != debugDump(model.graph) { changed.insert(pass.name) }
            let params = context.parameterValues
            let diff = try maxOutputDifference(model.graph, out, inputs: model.inputs, parameters: params)
            #expect(diff <= Self.tolerance[pass.name]!, "\(model.name): pass \(pass.name) changed outputs by \(diff)")
        }
        for (name, _) in Passes.pipelines {
            let ctx = PassContext(parameterValues: model.parameters)
            let pm = PassManager(passes: try Passes.parseList(name), verify: checkWellFormed, render: { _ in "" })
            let (out, _) = try pm.run(model.graph, context: ctx)
            let diff = try maxOutputDifference(model.graph, out, inputs: model.inputs, parameters: ctx.parameterValues)
            #expect(diff <= 1e-5, "\(model.name): pipeline \(name) changed outputs by \(diff)")
        }
        return changed
    }

    @Test func randomGraphsKeepMeaning() throws {
        var changedCount: [String: Int] = [:]
        for seed in 0..<300 as Range<UInt64> {
            for p in try checkEveryPass(try RandomGraphs.make(seed: seed)) { changedCount[p, default: 0] += 1 }
        }
        // The generator must actually give every pass work (fold-masks has its own models below).
        for p in ["canonicalize", "cse", "dce", "freeze", "fuse"] {
            #expect(changedCount[p, default: 0] >= 30, "\(p) changed only \(changedCount[p, default: 0]) of 300 graphs")
        }
    }

    @Test(arguments: ["mlp", "transformer_block", "padded_attention", "frozen_encoder"])
    func modelsKeepMeaning(name: String) throws {
        let model = try TestModels.all().first { $0.name == name }!
        try checkEveryPass(model)
    }

    @Test func passesShrinkTheTransformerBlock() throws {
        let model = try TestModels.transformerBlock()
        let pm = PassManager(passes: try Passes.parseList("inference"), verify: checkWellFormed, render: { _ in "" })
        let (out, records) = try pm.run(model.graph, context: PassContext(parameterValues: model.parameters))
        let before = GraphStats(model.graph), after = GraphStats(out)
        #expect(after.kernels < before.kernels * 2 / 3, "kernels \(before.kernels) -> \(after.kernels)\n\(debugDump(out))")
        // Q, K and V share one GEMM: four GEMMs remain (QKV, output projection, two MLP layers).
        #expect(out.nodes.filter { $0.op == .matmul || $0.op == .fusedMatmul }.count == 4)
        #expect(out.nodes.filter { $0.op == .addLayerNorm }.count == 2)
        #expect(after.bytesMoved < before.bytesMoved)
        #expect(records.map(\.pass) == Passes.pipelines["inference"]!)
        // The hand-written causal softmax became one attention with the symbolic mask, and no [L, L] mask remains.
        let att = out.nodes.filter { $0.op == .attention }
        #expect(att.count == 1 && att.first?.attributes.mask("mask") == AttentionMask(.causal) && att.first?.operands.count == 3)
        #expect(!out.nodes.contains { $0.type.shape.suffix(2) == [6, 6] })
    }
}

func debugDump(_ g: Graph) -> String {
    g.nodes.enumerated().map { i, n in
        "%\(i) = \(n.op.mnemonic)(\(n.operands.map(\.description).joined(separator: ", "))) \(n.attributes.filter { $0.key != "value" }) : \(n.type)"
    }.joined(separator: "\n")
}
