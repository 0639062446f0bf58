import Foundation
import GraphIR
import Testing
@testable import GraphPasses

/// Text-in/text-out pass tests: each `Inputs/<pass>.graph` holds a graph, a `// RUN: pass,list` line and
/// `// CHECK` lines for the printed result (see FileCheck.swift). Each also runs on the interpreter before and
/// after (random bindings), within 1e-5.
@Suite struct TextPassTests {
    static let inputs: [String] = ["canonicalize", "cse", "dce", "freeze", "fold-masks", "fuse"]

    static func load(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: "graph", subdirectory: "Inputs") else {
            throw GraphError(.parse, "test input \(name).graph not found")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    @Test(arguments: inputs)
    func passMatchesChecks(_ name: String) throws {
        let text = try Self.load(name)
        guard let run = text.split(separator: "\n").first(where: { $0.hasPrefix("// RUN:") }) else {
            Issue.record("\(name).graph has no RUN line")
            return
        }
        let passes = try Passes.parseList(String(run.dropFirst("// RUN:".count)).trimmingCharacters(in: .whitespaces))
        let g = try GraphParser.parse(text)
        try Verifier.verify(g)
        let (out, _) = try PassManager(passes: passes, verify: Verifier.verify, render: { GraphPrinter.print($0) }).run(g)
        let printed = GraphPrinter.print(out)
        let failures = FileCheck.match(printed, text)
        #expect(failures.isEmpty, "\(name).graph:\n\(failures.joined(separator: "\n"))\n--- output ---\n\(printed)")
        // The printed result parses back to the same text.
        #expect(GraphPrinter.print(try GraphParser.parse(printed)) == printed)
        let (inputs, parameters) = randomBindings(g, seed: 11)
        let diff = try maxOutputDifference(g, out, inputs: inputs.merging(["lens": Tensor(ints: [2, 4], shape: [2])]) { _, b in b },
                                           parameters: parameters)
        #expect(diff <= 1e-5, "\(name): outputs changed by \(diff)")
    }

    @Test func fileCheckCatchesMisses() {
        let out = "a = 1\nb = 2\nc = 3\n"
        #expect(FileCheck.match(out, "CHECK: a\nCHECK-NEXT: b\nCHECK: c").isEmpty)
        #expect(FileCheck.match(out, "CHECK: a\nCHECK-NEXT: c").count == 1)
        #expect(FileCheck.match(out, "CHECK: a\nCHECK-NOT: b\nCHECK: c").count == 1)
        #expect(FileCheck.match(out, "CHECK: c\nCHECK: a").count == 1)
        #expect(FileCheck.match(out, "CHECK-NOT: d").isEmpty)
        #expect(FileCheck.match(out, "CHECK-LABEL: b   =  2").isEmpty)
        #expect(FileCheck.match(out, "nothing").count == 1)
    }
}
