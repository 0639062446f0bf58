import Foundation
import Testing
@testable import GraphIR

/// The package root, found from this file's path (Tests/GraphIRTests/<file>).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The op table of Docs/IR.md, generated from the registry: a new or changed op changes this text, and the test
/// below fails until the doc carries it.
func opTableMarkdown() -> String {
    func kind(_ k: AttrKind) -> String {
        switch k {
        case .int: return "int"
        case .float: return "float"
        case .bool: return "bool"
        case .ints: return "ints"
        case .floats: return "floats"
        case .string: return "string"
        case .symbol(let allowed): return allowed.joined(separator: "\\|")
        case .dtype: return "dtype"
        case .mask: return "mask"
        case .initializer: return "initializer"
        }
    }
    func arity(_ r: ClosedRange<Int>) -> String {
        r.upperBound == Int.max ? "\(r.lowerBound)+" : r.lowerBound == r.upperBound ? "\(r.lowerBound)" : "\(r.lowerBound)–\(r.upperBound)"
    }
    var rows = ["| op | operands | attributes (`?` = optional) | fusion class | result type |", "|---|---|---|---|---|"]
    for op in OpKind.allCases {
        let s = op.spec
        let attrs = s.attributes.map { "`\($0.name)\($0.required ? "" : "?")`: \(kind($0.kind))" }.joined(separator: ", ")
        rows.append("| `\(s.mnemonic)` | \(arity(s.arity)) | \(attrs.isEmpty ? "–" : attrs) | \(s.fusion.rawValue) | \(s.declaresType ? "declared" : "inferred") |")
    }
    return rows.joined(separator: "\n")
}

@Suite struct DocsAndExamplesTests {
    @Test func irDocCarriesTheGeneratedOpTable() throws {
        let doc = try String(contentsOf: packageRoot.appendingPathComponent("Docs/IR.md"), encoding: .utf8)
        let table = opTableMarkdown()
        #expect(doc.contains(table), "Docs/IR.md's op table is stale; replace it with:\n\(table)")
    }

    @Test func irDocDescribesEveryOp() throws {
        let doc = try String(contentsOf: packageRoot.appendingPathComponent("Docs/IR.md"), encoding: .utf8)
        // Each op needs a semantics entry: a bullet line under "### Semantics" that names it in backquotes.
        let semantics = try #require(doc.range(of: "### Semantics")).upperBound
        let end = doc.range(of: "## How to add an op")?.lowerBound ?? doc.endIndex
        let bullets = doc[semantics..<end].split(separator: "\n").filter { $0.hasPrefix("- ") }.map { String($0.prefix { $0 != ":" }) }
        for op in OpKind.allCases {
            #expect(bullets.contains { $0.contains("`\(op.mnemonic)`") }, "Docs/IR.md has no semantics entry for `\(op.mnemonic)`")
        }
    }

    @Test func everyExampleGraphParsesVerifiesAndRoundTrips() throws {
        let dir = packageRoot.appendingPathComponent("Examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".graph") }.sorted()
        #expect(files.count >= 2)
        var ops: Set<OpKind> = []
        for file in files {
            let data = try Data(contentsOf: dir.appendingPathComponent(file))
            let g = try GraphParser.parse(data: data)
            try Verifier.verify(g)
            let text = GraphPrinter.print(g)
            #expect(GraphPrinter.print(try GraphParser.parse(text)) == text, "\(file)")
            #expect(!g.outputs.isEmpty, "\(file) has no output")
            ops.formUnion(g.nodes.map(\.op))
        }
        #expect(ops.isSuperset(of: [.crossEntropy, .attention, .layerNorm, .matmul]))
    }
}
