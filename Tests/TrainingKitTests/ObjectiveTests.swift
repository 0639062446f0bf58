import Testing
import Foundation
import GraphIR
import BLIP2
@testable import TrainingKit

/// Stage-1 objective weighting: the loss is Σ weight · objective, and a dropped objective's pass leaves the graph.
@Suite struct ObjectiveTests {
    func stage1Graph() throws -> (TinyPipeline, Graph) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-objectives-\(UUID().uuidString)")
        let p = try TrainerPipelineTests.microPipeline(dir)
        let g = try BLIP2Model.build(config: p.recipe.config, stage: .one, mode: .eval, shapes: BLIP2Shapes(batch: 4, textLength: 6))
        return (p, g)
    }

    @Test func weightedLossIsTheWeightedSum() throws {
        let (p, g) = try stage1Graph()
        let inputs: [String: Tensor] = [
            "pixel_values": Tensor(.f32, g.type(of: g.inputs.first { $0.name == "pixel_values" }!.value).shape,
                                   (0..<(4 * 3 * 16 * 16)).map { sin(Double($0)) }),
            "input_ids": Tensor(ints: [2, 8, 9, 3, 0, 0, 2, 10, 11, 12, 3, 0, 2, 9, 3, 0, 0, 0, 2, 13, 8, 3, 0, 0], shape: [4, 6]),
            "attention_mask": Tensor(ints: [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0], shape: [4, 6]),
            "sampling_seed": Tensor(.i32, [], [7]),
        ]
        let params = g.initialParameters(seed: 1)
        let all = try Interpreter().run(g, inputs: inputs, parameters: params)
        let weighted = try p.weightingObjectives(g, [.itc: 1, .itm: 0.5, .itg: 0.1])
        #expect(Set(weighted.outputs.map(\.name)) == ["loss", "loss_itc", "loss_itm", "loss_itg", "vision_last_hidden_state"])
        let w = try Interpreter().run(weighted, inputs: inputs, parameters: params)
        let expected = all["loss_itc"]!.scalars[0] + 0.5 * all["loss_itm"]!.scalars[0] + 0.1 * all["loss_itg"]!.scalars[0]
        #expect(abs(w["loss"]!.scalars[0] - expected) < 1e-5)
    }

    @Test func droppedObjectivesLeaveNoPass() throws {
        let (p, g) = try stage1Graph()
        let itcOnly = try p.weightingObjectives(g, [.itc: 1])
        #expect(Set(itcOnly.outputs.map(\.name)) == ["loss", "loss_itc", "vision_last_hidden_state"])
        // No node of the ITM or ITG passes is reachable from the outputs.
        var live = [Bool](repeating: false, count: itcOnly.nodes.count)
        var stack = itcOnly.outputs.map(\.value.id)
        while let i = stack.popLast() {
            if live[i] { continue }
            live[i] = true
            stack += itcOnly.nodes[i].operands.map(\.id)
        }
        #expect(!itcOnly.nodes.indices.contains { live[$0] && (itcOnly.nodes[$0].scope.contains("itm") || itcOnly.nodes[$0].scope.contains("itg")) })
        #expect(itcOnly.nodes.indices.contains { live[$0] && itcOnly.nodes[$0].scope.contains("itc") })
        #expect(throws: TrainingError.self) { try p.weightingObjectives(g, [:]) }
    }
}
