import ArgumentParser
import Foundation
import GraphIR

/// Output formats of `graphc dump`.
enum DumpFormat: String, CaseIterable, ExpressibleByArgument {
    case text, dot, json
}

/// `graphc dump`: load a graph (file or model), verify it, and print it as text, DOT or JSON, or its statistics.
struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a graph from a .graph file or a registered model.",
        discussion: """
            SOURCE is a path to a .graph file (parsed and verified) or a model name from `graphc models` (built in Swift, then verified). Errors are one line on stderr with a non-zero exit status.

            Formats: `text` is the parseable IR (Docs/IR.md). `dot` is Graphviz with scopes as clusters and parameters coloured by role (trainable green, frozen blue, state grey; inputs yellow): `graphc dump mlp --format dot | dot -Tsvg > mlp.svg`. `json` lists the nodes with their types, attributes and scopes, then the outputs and updates.

            Stages: `--train` replaces the graph by its training step for the output named `loss` (forward, backward through the trainable parameters only, AdamW update written to the parameters; inputs `lr` and `step`); `--passes` runs passes (see Docs/Passes.md); `--after STAGE` and `--print-after-all` print the IR after stages, e.g. `graphc dump transformer-block --train --after autodiff --after fuse`.

            `--stats` prints, instead of the graph, ops by kind with FLOP estimates (a multiply-add counts 2) and parameters by role with element counts and bytes (as text, or JSON with `--format json`).
            """
    )

    @Argument(help: ArgumentHelp("A .graph file, or a model name (see `graphc models`).", valueName: "FILE.graph|MODEL"))
    var source: String

    @Option(help: "Model config (e.g. tiny); each model lists its configs in `graphc models`.")
    var config: String?

    @Option(help: "Training stage, for models that have stages (blip2: 1 or 2).")
    var stage: Int?

    @Option(help: "Language-model family, for models that take one (blip2: opt, t5, llama).")
    var llm: String?

    @Option(help: "Output format: text, dot or json.")
    var format: DumpFormat = .text

    @Flag(help: "Print statistics (ops, parameters by role, FLOPs) instead of the graph.")
    var stats = false

    @Flag(help: "Print each node's Swift source location (text format).")
    var locations = false

    @Flag(help: "Replace the graph by its training step: forward, backward of the output `loss` through the trainable parameters, AdamW update.")
    var train = false

    @Option(help: ArgumentHelp("Passes to run: a pipeline (training, training-post-ad, inference) or a comma-separated list (canonicalize,cse,dce). With --train they run after autodiff.", valueName: "SPEC"))
    var passes: String?

    @Option(help: ArgumentHelp("Print the IR after this stage (a pass name, autodiff, or lower: the runtime's kernel list and memory plan); repeatable. Without --passes this runs the standard pipeline (inference, or training + autodiff + training-post-ad with --train).", valueName: "STAGE"))
    var after: [String] = []

    @Flag(help: "Print the IR after every stage.")
    var printAfterAll = false

    func run() throws {
        do {
            print(try render(), terminator: "")
        } catch let e as CLIError {
            throw e
        } catch let e as GraphError {
            throw CLIError(e.message)
        } catch {
            throw CLIError("\(error)")
        }
    }

    /// The whole command as a function of its options, so tests need no process.
    func render(registry: ModelRegistry = .standard) throws -> String {
        if stats && format == .dot { throw CLIError("--stats prints text or json, not dot") }
        let printsStages = printAfterAll || !after.isEmpty
        if printsStages && (stats || format != .text) { throw CLIError("--after and --print-after-all print text IR only") }
        let built = try loadGraph(source, ModelOptions(config: config, stage: stage, llm: llm), registry: registry)
        let pipeline = DumpPipeline(train: train, passes: passes, after: after, printAfterAll: printAfterAll, locations: locations)
        let result = try pipeline.run(built, measureAutodiff: stats)
        let g = result.graph
        if printsStages { return result.dumps }
        if stats {
            let s = DumpStats(g)
            if format == .json { return JSONExporter.export(s, graphName: g.name) }
            var report = s.report(graphName: g.name) + "\n"
            if let section = registry.entry(named: source)?.statsReport { report += "\n" + section(built) + "\n" }
            if let a = result.autodiff { report += "\n" + DumpStats.autodiffReport(a) + "\n" }
            if !result.records.isEmpty {
                report += "\npasses:\n" + result.records.map { "  " + $0.summary }.joined(separator: "\n") + "\n"
            }
            return report
        }
        switch format {
        case .text:
            let text = GraphPrinter.print(g, locations: locations)
            return text.hasSuffix("\n") ? text : text + "\n"
        case .dot: return DotExporter.export(g)
        case .json: return JSONExporter.export(g)
        }
    }
}

/// Loads SOURCE: an existing file (or any name ending in `.graph`) is parsed, anything else is a model name.
/// The result is verified either way. Every failure is a one-line `CLIError` naming the file or model.
func loadGraph(_ source: String, _ options: ModelOptions, registry: ModelRegistry) throws -> Graph {
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory)
    if exists || source.hasSuffix(".graph") || source.contains("/") {
        if options != ModelOptions() { throw CLIError("\(source): --config, --stage and --llm apply to models, not files") }
        guard exists else { throw CLIError("\(source): no such file") }
        guard !isDirectory.boolValue else { throw CLIError("\(source): is a directory") }
        return try parseFile(source)
    }
    let g: Graph
    do {
        g = try registry.build(source, options)
    } catch let e as GraphError {
        throw CLIError("model '\(source)': \(e.message)")
    }
    do {
        try Verifier.verify(g)
    } catch let e as GraphError {
        throw CLIError("model '\(source)' does not verify: \(e.message)")
    }
    return g
}

/// Reads, parses and verifies a `.graph` file; errors read `FILE:line:col: ...` or `FILE: ...`.
func parseFile(_ path: String) throws -> Graph {
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("\(path): cannot read the file") }
    let g: Graph
    do {
        g = try GraphParser.parse(data: data)
    } catch let e as GraphError {
        throw CLIError("\(path):\(e.message)")
    }
    do {
        try Verifier.verify(g)
    } catch let e as GraphError {
        throw CLIError("\(path): does not verify: \(e.message)")
    }
    return g
}
