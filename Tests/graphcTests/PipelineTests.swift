import GraphIR
import Testing
@testable import graphc

// `graphc dump --train / --passes / --after / --print-after-all`.

@Suite struct PipelineTests {
    @Test func trainAddsAGradientOutputPerTrainableParameter() throws {
        let text = try dump(["mlp", "--train"])
        let g = try GraphParser.parse(text)
        try Verifier.verify(g)
        let forward = try ModelRegistry.standard.build("mlp", ModelOptions())
        let expected = forward.parameters.filter { $0.role == .trainable }.map { "grad." + $0.name }
        #expect(g.outputs.map(\.name) == ["logits", "loss"] + expected)
        for p in forward.parameters {
            #expect(g.type(of: g.output("grad." + p.name)!) == forward.type(of: p.value))
        }
        #expect(g.nodes.count > forward.nodes.count)
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
