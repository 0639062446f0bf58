import Foundation
import GraphIR
import Testing
@testable import graphc

// `graphc dump` called in-process through the same option parsing as the command line.

/// The repository root, found from this file's path (Tests/graphcTests/DumpTests.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs `graphc dump ARGS` in-process and returns its output.
func dump(_ arguments: [String]) throws -> String {
    try Dump.parse(arguments).render()
}

/// Every `.graph` file in Examples/.
func exampleGraphs() -> [URL] {
    let dir = repositoryRoot.appendingPathComponent("Examples")
    let files = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? []
    return files.filter { $0.pathExtension == "graph" }.sorted { $0.path < $1.path }
}

@Suite struct DumpTests {
    // `paper` configs are checked by their stats below: printing and parsing a billion-parameter model's text
    // takes tens of seconds in a debug build.
    @Test(arguments: ModelRegistry.standard.entries.flatMap { e in e.configs.filter { $0 != "paper" }.map { (e.name, $0) } })
    func everyModelConfigBuildsVerifiesAndRoundTrips(_ model: String, _ config: String) throws {
        let text = try dump([model, "--config", config])
        let reparsed = try GraphParser.parse(text)
        try Verifier.verify(reparsed)
        #expect(GraphPrinter.print(reparsed) == text)
    }

    @Test(arguments: ["opt", "t5", "llama"])
    func blip2StageTwoBuildsForEachLanguageModel(_ llm: String) throws {
        let text = try dump(["blip2", "--stage", "2", "--llm", llm])
        #expect(GraphPrinter.print(try GraphParser.parse(text)) == text)
        let g = try ModelRegistry.standard.build("blip2", ModelOptions(stage: 2, llm: llm))
        #expect(g.output("loss") != nil)
        // Stage 2 freezes the ViT and the LLM: both roles are present.
        #expect(Set(DumpStats(g).parameters.map(\.role)) == [.trainable, .frozen])
    }

    @Test func blip2PaperStatsMatchThePublishedSizes() throws {
        // BLIP-2 (Li et al. 2023): a 188M-parameter Q-Former (with its stage-1 heads) on a frozen ~1B ViT-g/14.
        let s = DumpStats(try ModelRegistry.standard.build("blip2", ModelOptions(config: "paper")))
        let trainable = s.parameters.first { $0.role == .trainable }?.elements ?? 0
        let frozen = s.parameters.first { $0.role == .frozen }?.elements ?? 0
        #expect(trainable > 180_000_000 && trainable < 195_000_000, "trainable \(trainable)")
        #expect(frozen > 950_000_000 && frozen < 1_050_000_000, "frozen \(frozen)")
        #expect(s.parameters.allSatisfy { $0.bytes == 4 * $0.elements })
    }

    @Test func blip2OptionsAreChecked() throws {
        for args in [["blip2", "--stage", "3"], ["blip2", "--stage", "2", "--llm", "gpt"], ["blip2", "--llm", "opt"],
                     ["blip2", "--config", "huge"]] {
            #expect(throws: CLIError.self, "\(args)") { try dump(args) }
        }
    }

    @Test func defaultConfigIsTheFirst() throws {
        #expect(try dump(["mlp"]) == dump(["mlp", "--config", "tiny"]))
    }

    @Test func mlpStatsAreTheHandCountedNumbers() throws {
        // tiny: x[2,4] -> linear 4->8 -> relu -> linear 8->3, cross-entropy.
        let g = try ModelRegistry.standard.build("mlp", ModelOptions(config: "tiny"))
        let s = DumpStats(g)
        #expect(s.parameters == [DumpStats.RoleCount(role: .trainable, tensors: 4, elements: 4 * 8 + 8 + 8 * 3 + 3,
                                                      bytes: 4 * (4 * 8 + 8 + 8 * 3 + 3))])
        let matmul = s.ops.first { $0.op == .matmul }
        #expect(matmul?.count == 2)
        #expect(matmul?.flops == 2 * 2 * 4 * 8 + 2 * 2 * 8 * 3)
        #expect(s.ops.first { $0.op == .parameter }?.count == 4)
        #expect(s.nodeCount == g.nodes.count)
        let report = try dump(["mlp", "--stats"])
        #expect(report.contains("trainable        4               67              268  (67 params, 268 B)"))
        #expect(report.contains("matmul"))
    }

    @Test func transformerBlockParameterCountMatchesTheFormula() throws {
        // Per block: 4 projections D·D + D, two layer norms 2·D each, MLP D·F + F + F·D + D.
        for (name, c) in TransformerBlockConfig.configs {
            let s = DumpStats(try ModelRegistry.standard.build("transformer-block", ModelOptions(config: name)))
            let (d, f) = (c.width, c.ffWidth)
            let expected = 4 * (d * d + d) + 2 * 2 * d + (d * f + f + f * d + d)
            #expect(s.parameters.map(\.elements) == [expected], "config \(name)")
            // FLOPs of the six GEMMs: 2·B·L·(4·D·D + 2·D·F).
            let gemm = 2 * c.batch * c.length * (4 * d * d + 2 * d * f)
            #expect(s.ops.first { $0.op == .matmul }?.flops == gemm, "config \(name)")
        }
    }

    @Test func statsAsJSON() throws {
        let text = try dump(["mlp", "--stats", "--format", "json"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(obj["graph"] as? String == "mlp")
        let params = try #require(obj["parameters"] as? [[String: Any]])
        #expect(params.first?["elements"] as? Int == 67)
        #expect(params.first?["bytes"] as? Int == 268)
    }

    @Test func jsonListsEveryNodeWithTypeAndAttributes() throws {
        let g = try ModelRegistry.standard.build("transformer-block", ModelOptions())
        let text = try dump(["transformer-block", "--format", "json"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let nodes = try #require(obj["nodes"] as? [[String: Any]])
        #expect(nodes.count == g.nodes.count)
        for (i, n) in nodes.enumerated() {
            #expect(n["id"] as? Int == i)
            #expect(n["op"] as? String == g.nodes[i].op.mnemonic)
            let type = try #require(n["type"] as? [String: Any])
            #expect(type["dtype"] as? String == g.nodes[i].type.dtype.rawValue)
            #expect(type["shape"] as? [Int] == g.nodes[i].type.shape)
            #expect(n["operands"] as? [Int] == g.nodes[i].operands.map(\.id))
        }
        let attention = try #require(nodes.first { $0["op"] as? String == "attention" })
        let mask = try #require((attention["attributes"] as? [String: Any])?["mask"] as? [String: Any])
        #expect(mask["key_padding"] as? Bool == true)
        let outputs = try #require(obj["outputs"] as? [[String: Any]])
        #expect(outputs.compactMap { $0["name"] as? String } == ["y", "loss"])
    }

    @Test func jsonEscapesAndNonFiniteNumbers() {
        let j = JSON.object([("a\"b", .string("line\nbreak\u{1}")), ("x", .number(.infinity)), ("n", .number(.nan))])
        let text = j.text(indent: nil)
        #expect(text == #"{"a\"b": "line\nbreak\u0001", "x": "inf", "n": "nan"}"#)
    }

    @Test func dotHasClustersColoursAndEveryEdge() throws {
        let g = try ModelRegistry.standard.build("transformer-block", ModelOptions())
        let dot = try dump(["transformer-block", "--format", "dot"])
        #expect(dot.hasPrefix("digraph \"transformer_block\" {"))
        #expect(dot.contains("subgraph cluster_"))
        #expect(dot.contains("label=\"block.attention\""))
        #expect(dot.contains(DotExporter.colour(of: .trainable)))
        let edges = dot.split(separator: "\n").filter { $0.contains(" -> n") }
        #expect(edges.count == g.nodes.reduce(0) { $0 + $1.operands.count })
        // Braces balance (every cluster closed).
        #expect(dot.filter { $0 == "{" }.count == dot.filter { $0 == "}" }.count)
    }

    @Test func dotColoursEachRole() throws {
        let g = Graph(name: "roles")
        let t = try g.parameter("t", [2], role: .trainable)
        let f = try g.parameter("f", [2], role: .frozen)
        let s = try g.parameter("s", [2], role: .state)
        g.output("y", try g.add(try g.add(t, f), s))
        let dot = DotExporter.export(g)
        for role in ParameterRole.allCases { #expect(dot.contains(DotExporter.colour(of: role)), "\(role)") }
        #expect(Set(ParameterRole.allCases.map(DotExporter.colour(of:))).count == 3)
    }

    @Test func scopeTreeNestsEveryPrefix() throws {
        let g = Graph()
        let x = try g.input("x", [1])
        _ = try g.scope("a") { try g.scope("b") { try g.neg(x) } }
        _ = try g.scope("a") { try g.neg(x) }
        let tree = ScopeTree(g)
        #expect(tree.children[""] == ["a"])
        #expect(tree.children["a"] == ["a.b"])
        #expect(tree.nodes["a.b"] == [1])
        #expect(tree.nodes["a"] == [2])
        #expect(tree.nodes[""] == [0])
    }

    @Test func locationsFlagPrintsSourceLines() throws {
        let text = try dump(["mlp", "--locations"])
        #expect(text.contains("MLP.swift") || text.contains("Layers.swift"))
        #expect(!(try dump(["mlp"])).contains("Layers.swift"))
    }

    @Test func badRequestsAreOneLineErrors() throws {
        let cases: [[String]] = [
            ["no-such-model"],
            ["missing.graph"],
            ["mlp", "--config", "huge"],
            ["mlp", "--stage", "1"],
            ["mlp", "--llm", "opt"],
            ["mlp", "--stats", "--format", "dot"],
            [repositoryRoot.appendingPathComponent("Examples").path],
        ]
        for args in cases {
            do {
                _ = try dump(args)
                Issue.record("\(args) succeeded")
            } catch let e as CLIError {
                #expect(!e.message.contains("\n"), "\(args)")
                #expect(!e.message.isEmpty)
            }
        }
    }

    @Test func malformedFilesNameTheFileAndPosition() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-dump-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad: [(String, [UInt8])] = [
            ("truncated.graph", Array("graph \"g\" {\n  %0 = input {name = \"x\"} : f32[2".utf8)),
            ("unknown-op.graph", Array("graph \"g\" {\n  %0 = frobnicate() : f32[2]\n}\n".utf8)),
            ("not-utf8.graph", [0x67, 0x72, 0xFF, 0xFE, 0x0A]),
            ("empty.graph", []),
        ]
        for (name, bytes) in bad {
            let path = dir.appendingPathComponent(name).path
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do {
                _ = try dump([path])
                Issue.record("\(name) parsed")
            } catch let e as CLIError {
                #expect(e.message.hasPrefix(path + ":"), "\(e.message)")
                #expect(!e.message.contains("\n"))
            }
        }
    }

    @Test func hugeShapesGiveStatsInsteadOfOverflowing() throws {
        // Each tensor is within the parser's 2^53-element limit, but the product's FLOPs (2^79) are not an Int.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-huge-\(UUID().uuidString).graph").path
        let text = """
            graph "huge" {
              %0 = parameter {name = "w", role = trainable} : f32[67108864, 67108864]
              %1 = matmul(%0, %0) : f32[67108864, 67108864]
              %2 = matmul(%1, %1) : f32[67108864, 67108864]
              output "y" = %2
            }

            """
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let s = DumpStats(try parseFile(path))
        #expect(s.ops.first { $0.op == .matmul }?.flops == 2 << 53)
        #expect(s.parameters.first?.elements == 1 << 52)
        #expect(saturatingSum(Int.max, 1) == Int.max)
        #expect(try dump([path, "--stats"]).contains("matmul"))
    }

    @Test func fileOptionsAreRejected() throws {
        #expect(throws: CLIError.self) { try dump(["x.graph", "--config", "tiny"]) }
    }

    @Test func modelsListingNamesEveryModel() {
        let listing = Models.listing(.standard)
        for e in ModelRegistry.standard.entries {
            #expect(listing.contains(e.name))
            for c in e.configs { #expect(listing.contains(c)) }
        }
    }

    @Test func examplesDumpInEveryFormat() throws {
        #expect(exampleGraphs().count >= 2, "Examples/ should hold at least two .graph files")
        for file in exampleGraphs() {
            let text = try dump([file.path])
            #expect(GraphPrinter.print(try GraphParser.parse(text)) == text, "\(file.lastPathComponent)")
            #expect(try dump([file.path, "--format", "dot"]).hasPrefix("digraph"))
            #expect(try JSONSerialization.jsonObject(with: Data(try dump([file.path, "--format", "json"]).utf8)) is [String: Any])
            #expect(try dump([file.path, "--stats"]).contains("ops by kind"))
        }
    }

    @Test func humanReadableNumbers() {
        #expect(grouped(1_234_567) == "1,234,567")
        #expect(grouped(0) == "0")
        #expect(grouped(-1000) == "-1,000")
        #expect(humanCount(3.9e9, unit: "FLOP") == "3.90 GFLOP")
        #expect(humanCount(999, unit: "FLOP") == "999 FLOP")
        #expect(humanCount(8544, unit: "") == "8.54 k")
        #expect(humanBytes(1536) == "1.50 KiB")
        #expect(humanBytes(100) == "100 B")
        #expect(formatFixed(0.05, 2) == "0.05")
    }
}
