import GraphIR
import Testing
@testable import graphc

// `graphc dump --train / --passes / --after / --print-after-all`.

@Suite struct PipelineTests {
    @Test func trainBuildsTheTrainingStepWithAnUpdatePerTrainableParameter() throws {
        let text = try dump(["mlp", "--train"])
        let g = try GraphParser.parse(text)
        try Verifier.verify(g)
        let forward = try ModelRegistry.standard.build("mlp", ModelOptions())
        let updated = Set(g.updates.map(\.parameter))
        for p in forward.parameters {
            #expect(updated.contains(p.name), "no update for \(p.name)")
            let update = try #require(g.updates.first { $0.parameter == p.name })
            #expect(g.type(of: update.value) == forward.type(of: p.value))
        }
        // AdamW keeps optimizer state as `state` parameters, which are updated too.
        let state = g.parameters.filter { $0.role == .state }
        #expect(!state.isEmpty)
        for s in state { #expect(updated.contains(s.name)) }
        #expect(g.inputs.map(\.name).contains("lr"))
        #expect(g.output("loss") != nil)
    }

    @Test func trainStatsReportBackwardAndSavedValues() throws {
        let report = try dump(["blip2", "--stage", "2", "--train", "--stats"])
        #expect(report.contains("autodiff:"))
        #expect(report.contains("backward FLOPs"))
        #expect(report.contains("saved for backward"))
        #expect(report.contains("state"))
    }

    @Test func trainNeedsALossOutput() throws {
        let registry = ModelRegistry([ModelEntry(name: "noloss", summary: "a graph without a loss", configs: ["only"]) { _ in
            let g = Graph(name: "noloss")
            g.output("y", try g.neg(try g.parameter("w", [2])))
            return g
        }])
        do {
            _ = try Dump.parse(["noloss", "--train"]).render(registry: registry)
            Issue.record("--train without a loss succeeded")
        } catch let e as CLIError {
            #expect(e.message.contains("'loss'"))
            #expect(e.message.contains("y"))
        }
    }

    @Test func printAfterAllNumbersEveryStageAndEachDumpParses() throws {
        let text = try dump(["transformer-block", "--train", "--print-after-all"])
        let header = "// -----// IR dump after "
        let chunks = text.components(separatedBy: header).dropFirst()
        let names = chunks.map { $0.prefix(while: { $0 != "/" }).trimmingCharacters() }
        #expect(names == ["1: canonicalize", "2: fold-masks", "3: freeze", "4: cse", "5: dce", "6: autodiff",
                          "7: canonicalize", "8: cse", "9: fuse", "10: fold-masks", "11: freeze", "12: dce"])
        for chunk in chunks {
            let body = chunk.drop(while: { $0 != "\n" }).dropFirst()
            let g = try GraphParser.parse(String(body))
            try Verifier.verify(g)
        }
    }

    @Test func afterPrintsOnlyTheNamedStages() throws {
        let text = try dump(["transformer-block", "--train", "--after", "autodiff", "--after", "fuse"])
        #expect(text.components(separatedBy: "// -----// IR dump after ").count == 3)
        #expect(text.contains("6: autodiff"))
        #expect(text.contains("9: fuse"))
        #expect(text.contains("fused_"))
    }

    @Test func afterLowerPrintsTheKernelListAndMemoryPlan() throws {
        let text = try dump(["transformer-block", "--after", "lower"])
        #expect(text.hasPrefix("// -----// program after 8: lower //----- //\nprogram transformer_block:"))
        #expect(text.contains("kernels:"))
        #expect(text.contains("peak arena bytes:"))
        let training = try dump(["mlp", "--train", "--after", "autodiff", "--after", "lower"])
        #expect(training.contains("6: autodiff"))
        #expect(training.contains("program after 13: lower"))
    }

    @Test func explicitPassesRunAndReportInStats() throws {
        let report = try dump(["transformer-block", "--passes", "canonicalize,cse,dce", "--stats"])
        #expect(report.contains("passes:"))
        for pass in ["canonicalize", "cse", "dce"] { #expect(report.contains("  " + pass)) }
        let plain = try dump(["transformer-block", "--stats"])
        #expect(!plain.contains("passes:"))
    }

    @Test func badStageRequestsAreErrors() throws {
        for args in [["mlp", "--after", "nope"], ["mlp", "--after", "autodiff"], ["mlp", "--passes", "nope"],
                     ["mlp", "--after", "fuse", "--format", "dot"], ["mlp", "--print-after-all", "--stats"]] {
            do {
                _ = try Dump.parse(args).run()
                Issue.record("\(args) succeeded")
            } catch let e as CLIError {
                #expect(!e.message.contains("\n"), "\(args)")
            }
        }
    }

    @Test func renumberingShiftsOnlyTheHeader() {
        #expect(DumpPipeline.renumbered("// -----// IR dump after 2: cse //----- //\ngraph \"g\" {}\n", by: 6)
                == "// -----// IR dump after 8: cse //----- //\ngraph \"g\" {}\n")
        #expect(DumpPipeline.renumbered("graph", by: 3) == "graph")
    }
}

private extension Substring {
    func trimmingCharacters() -> String { String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()) }
}
