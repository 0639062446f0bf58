import GraphIR

/// What a pass may need besides the graph; shared by the passes of one run.
public final class PassContext {
    /// Values of frozen parameters, by name. `freeze` folds work on frozen parameters only when these are given,
    /// and adds the values of the frozen parameters it derives (`q.weight.concat`), which the caller binds.
    public var parameterValues: [String: Tensor]

    public init(parameterValues: [String: Tensor] = [:]) { self.parameterValues = parameterValues }
}

/// A named graph-to-graph pass; its name is its command-line flag (`fold-masks`).
public struct Pass {
    public var name: String
    /// One line for `--help` and Docs/Passes.md.
    public var summary: String
    public var run: (Graph, PassContext) throws -> Graph

    public init(_ name: String, _ summary: String, run: @escaping (Graph, PassContext) throws -> Graph) {
        self.name = name
        self.summary = summary
        self.run = run
    }
}

/// Every pass and the named pipelines.
public enum Passes {
    public static let all: [Pass] = [
        Pass("canonicalize", "exact algebraic identities, reshape/transpose chains, splat constants") { g, _ in try canonicalize(g) },
        Pass("cse", "merge nodes computing the same value") { g, _ in eliminateCommonSubexpressions(g) },
        Pass("dce", "remove nodes no output or update reads") { g, _ in eliminateDeadCode(g) },
        Pass("freeze", "fold work on constants and frozen parameters (with their values) into constants and frozen parameters") { g, c in
            let frozen = try freeze(g, parameterValues: c.parameterValues)
            c.parameterValues.merge(frozen.derived) { _, new in new }
            return frozen.graph
        },
        Pass("fold-masks", "replace compile-time attention bias masks by the symbolic mask attribute") { g, _ in try foldMasks(g) },
        Pass("fuse", "attention from softmax chains, QKV GEMMs, add+layer_norm, matmul epilogues, elementwise/reduction kernels") { g, _ in
            try fuse(g)
        },
    ]

    /// Named pipelines. `training` runs before autodiff, `training-post-ad` on the graph autodiff returns
    /// (fusion must come after autodiff: fused ops have no VJP), `inference` on a forward graph. `fold-masks` runs
    /// again after `fuse` because fuse turns hand-written softmax attention into `attention` with a bias.
    public static let pipelines: [String: [String]] = [
        "training": ["canonicalize", "fold-masks", "freeze", "cse", "dce"],
        "training-post-ad": ["canonicalize", "cse", "fuse", "fold-masks", "freeze", "dce"],
        "inference": ["canonicalize", "fold-masks", "cse", "fuse", "fold-masks", "freeze", "dce"],
    ]

    /// The pass with this flag name, or an error listing the known ones.
    public static func named(_ name: String) throws -> Pass {
        guard let p = all.first(where: { $0.name == name }) else {
            throw GraphError(.build, "unknown pass '\(name)' (known: \(all.map(\.name).joined(separator: ", ")))")
        }
        return p
    }

    /// Passes from a comma-separated list (`canonicalize,cse,dce`) or a pipeline name.
    public static func parseList(_ spec: String) throws -> [Pass] {
        if let names = pipelines[spec] { return try names.map(named) }
        return try spec.split(separator: ",").map { try named($0.trimmingCharacters()) }
    }
}

private extension Substring {
    func trimmingCharacters() -> String { String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()) }
}

/// Runs passes in order, recording stats and timing, optionally verifying and printing after each.
public struct PassManager {
    public var passes: [Pass]
    /// Called on the graph after every pass (tests pass the IR verifier); a failure names the pass.
    public var verify: ((Graph) throws -> Void)?
    /// Print the graph after these passes (`--after PASS`).
    public var printAfter: Set<String> = []
    /// Print after every pass (`--print-after-all`).
    public var printAfterAll = false
    /// Renders a graph for printing (the CLI passes `GraphPrinter.print`).
    public var render: (Graph) -> String
    /// Receives each dump, headed `// -----// IR dump after N: PASS //----- //`.
    public var sink: (String) -> Void

    public init(passes: [Pass], verify: ((Graph) throws -> Void)? = nil,
                render: @escaping (Graph) -> String, sink: @escaping (String) -> Void = { Swift.print($0, terminator: "") }) {
        self.passes = passes
        self.verify = verify
        self.render = render
        self.sink = sink
    }

    /// Runs every pass; returns the final graph and one record per pass.
    public func run(_ g: Graph, context: PassContext = PassContext()) throws -> (graph: Graph, records: [PassRecord]) {
        var current = g
        var records: [PassRecord] = []
        let clock = ContinuousClock()
        for (k, pass) in passes.enumerated() {
            let before = GraphStats(current)
            let start = clock.now
            let next = try pass.run(current, context)
            let elapsed = clock.now - start
            if let verify {
                do { try verify(next) } catch {
                    throw GraphError(.verify, "after pass \(k + 1) '\(pass.name)': \(error)")
                }
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            records.append(PassRecord(pass: pass.name, before: before, after: GraphStats(next), seconds: seconds))
            if printAfterAll || printAfter.contains(pass.name) {
                sink("// -----// IR dump after \(k + 1): \(pass.name) //----- //\n" + render(next))
            }
            current = next
        }
        return (current, records)
    }
}
