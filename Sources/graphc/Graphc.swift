import ArgumentParser

/// The `graphc` command: inspect graphs written as text or built from Swift model code.
@main
struct Graphc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graphc",
        abstract: "A computation-graph compiler with reverse-mode autodiff: inspect graphs and models.",
        discussion: """
            graphc works on typed SSA graphs (see Docs/IR.md). A graph comes from a .graph text file or from a model in the registry (`graphc models` lists them). Examples:

              graphc dump Examples/mlp.graph
              graphc dump transformer-block --config tiny --format dot | dot -Tsvg > block.svg
              graphc dump mlp --config mnist --stats
            """,
        version: "0.1.0",
        subcommands: [Dump.self, Opt.self, Models.self, ContactSheetCommand.self, ImportClipartCommand.self, BLIP2Group.self]
    )
}
