import ArgumentParser
import Foundation
import GraphIR
import GraphPasses

/// `graphc opt FILE.graph --passes a,b,c`: reads IR text, runs passes (verifying after each) and prints the result.
struct Opt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run passes on a .graph file and print the resulting IR.",
        discussion: """
            Reads FILE.graph (Docs/IR.md), verifies it, runs the passes in order (verifying after each) and prints the result as parseable IR. Passes: \(Passes.all.map(\.name).joined(separator: ", ")); pipelines: \(Passes.pipelines.keys.sorted().joined(separator: ", ")). See Docs/Passes.md.

              graphc opt model.graph --passes canonicalize,cse,dce
              graphc opt model.graph --passes fuse --print-after-all
              graphc opt model.graph --passes inference --stats
            """
    )

    @Argument(help: ArgumentHelp("The .graph file to optimize.", valueName: "FILE.graph"))
    var file: String

    @Option(help: ArgumentHelp("A pipeline name or a comma-separated list of passes.", valueName: "SPEC"))
    var passes: String

    @Option(help: ArgumentHelp("Print the IR after this pass (repeatable) instead of the final IR.", valueName: "PASS"))
    var after: [String] = []

    @Flag(help: "Print the IR after every pass (numbered dumps) instead of the final IR.")
    var printAfterAll = false

    @Flag(help: "Print one line per pass: nodes, kernels, FLOPs and bytes moved before -> after, and the time.")
    var stats = false

    func run() throws {
        print(try render(), terminator: "")
    }

    /// The whole command as a function of its options, so tests need no process.
    func render() throws -> String {
        let g = try loadGraph(file, ModelOptions(), registry: ModelRegistry([]))
        do {
            let list = try Passes.parseList(passes)
            for name in after where !list.contains(where: { $0.name == name }) {
                throw CLIError("--after \(name): that pass is not in --passes \(passes)")
            }
            var dumps = ""
            var manager = PassManager(passes: list, verify: Verifier.verify, render: { GraphPrinter.print($0) }, sink: { dumps += $0 })
            manager.printAfter = Set(after)
            manager.printAfterAll = printAfterAll
            let (out, records) = try manager.run(g)
            if stats { return records.map(\.summary).joined(separator: "\n") + "\n" }
            return printAfterAll || !after.isEmpty ? dumps : GraphPrinter.print(out)
        } catch let e as GraphError {
            throw CLIError("\(file): \(e.message)")
        }
    }
}
