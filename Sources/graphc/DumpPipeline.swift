import GraphAutodiff
import GraphIR
import GraphPasses
import GraphRuntime

/// The stages `graphc dump` runs between building a graph and printing it: passes before autodiff, autodiff
/// (`--train`: the whole training step of `trainingGraph`, i.e. forward, backward and the AdamW update), passes
/// after it. Every stage is verified, and `--after STAGE` / `--print-after-all` print the
/// IR after the named stages (MLIR's `// -----// IR dump after …` headers).
struct DumpPipeline {
    /// Differentiate the output named `loss` with respect to every trainable parameter.
    var train = false
    /// `--passes`: a pipeline name or comma-separated pass list; nil means the default (see `stages`).
    var passes: String?
    /// `--after`: stage names to print after (pass names or `autodiff`).
    var after: [String] = []
    var printAfterAll = false
    /// Print source locations in the dumps (`--locations`).
    var locations = false

    /// The name `--after` uses for the autodiff stage.
    static let autodiffStage = "autodiff"
    /// The last stage, run only when `--after lower` asks for it: the runtime's kernel list and memory plan.
    static let lowerStage = "lower"

    /// Pass names before and after autodiff. With `--passes` those run after autodiff (fused ops have no VJP).
    /// Without it, asking to print after a stage selects the standard pipelines: `training`, autodiff,
    /// `training-post-ad` with `--train`, else `inference`; a plain dump runs no pass.
    func stages() throws -> (beforeAutodiff: [Pass], afterAutodiff: [Pass]) {
        if let passes { return ([], try Passes.parseList(passes)) }
        guard printAfterAll || !after.isEmpty else { return ([], []) }
        if train { return (try Passes.parseList("training"), try Passes.parseList("training-post-ad")) }
        return ([], try Passes.parseList("inference"))
    }

    /// What running the stages produced.
    struct Result {
        var graph: Graph
        /// The `--after` / `--print-after-all` dumps, concatenated.
        var dumps: String
        var records: [PassRecord]
        /// Costs of differentiation (with `--train` and `measureAutodiff`).
        var autodiff: AutodiffStats?
    }

    /// Runs the stages on `g`. `measureAutodiff` also differentiates everything once more, to report what
    /// selective differentiation saved (for `--stats`).
    func run(_ g: Graph, measureAutodiff: Bool = false) throws -> Result {
        let (pre, post) = try stages()
        let lowers = after.contains(DumpPipeline.lowerStage)
        let ran = pre.map(\.name) + (train ? [DumpPipeline.autodiffStage] : []) + post.map(\.name)
            + (lowers ? [DumpPipeline.lowerStage] : [])
        for name in after where !ran.contains(name) {
            let known = Passes.all.map(\.name) + [DumpPipeline.autodiffStage, DumpPipeline.lowerStage]
            throw CLIError(known.contains(name)
                           ? "--after \(name): that stage does not run here (stages: \(ran.isEmpty ? "none" : ran.joined(separator: ", ")))"
                           : "--after \(name): unknown stage (known: \(known.joined(separator: ", ")))")
        }
        var dumps = ""
        var records: [PassRecord] = []
        var autodiff: AutodiffStats?
        var stageNumber = 0
        func manager(_ passes: [Pass]) -> PassManager {
            var m = PassManager(passes: passes, verify: Verifier.verify, render: { [locations] in GraphPrinter.print($0, locations: locations) }, sink: { dumps += $0 })
            m.printAfter = Set(after)
            m.printAfterAll = printAfterAll
            return m
        }
        var current = g
        if !pre.isEmpty {
            let r = try manager(pre).run(current)
            (current, records) = (r.graph, r.records)
            stageNumber = pre.count
        }
        if train {
            guard let loss = current.output("loss") else {
                throw CLIError("--train needs an output named 'loss' (outputs: \(current.outputs.map(\.name).joined(separator: ", ")))")
            }
            let training = try trainingGraph(minimizing: loss, in: current)
            if measureAutodiff {
                var stats = try training.gradients.stats()
                stats.optimizerFLOPs = flops(of: training.graph, training.optimizerStart..<training.graph.nodes.count)
                autodiff = stats
            }
            current = training.graph
            try Verifier.verify(current)
            stageNumber += 1
            if printAfterAll || after.contains(DumpPipeline.autodiffStage) {
                dumps += "// -----// IR dump after \(stageNumber): \(DumpPipeline.autodiffStage) //----- //\n"
                    + GraphPrinter.print(current, locations: locations)
            }
        }
        if !post.isEmpty {
            // The pass manager numbers its own passes from 1; renumber its headers to count every stage.
            let offset = stageNumber
            var m = manager(post)
            m.sink = { text in dumps += offset == 0 ? text : DumpPipeline.renumbered(text, by: offset) }
            let r = try m.run(current)
            current = r.graph
            records += r.records
        }
        if lowers {
            let program = try Program.lower(current)
            dumps += "// -----// program after \(ran.count): \(DumpPipeline.lowerStage) //----- //\n" + program.description + "\n"
        }
        return Result(graph: current, dumps: dumps, records: records, autodiff: autodiff)
    }

    /// Shifts the stage number of a `// -----// IR dump after N: …` header by `offset`.
    static func renumbered(_ dump: String, by offset: Int) -> String {
        let prefix = "// -----// IR dump after "
        guard dump.hasPrefix(prefix) else { return dump }
        let rest = dump.dropFirst(prefix.count)
        let digits = rest.prefix(while: \.isNumber)
        guard let n = Int(digits) else { return dump }
        return prefix + String(n + offset) + rest.dropFirst(digits.count)
    }
}
