import GraphIR
import GraphAutodiff
import GraphPasses
import GraphRuntime

/// How the trainers compile graphs: optionally through the pass pipelines, then lowered onto a shared store.
public struct Compiler {
    /// Which pass pipelines run: `all` runs the named pipelines (`training` before autodiff, `training-post-ad`
    /// after; `inference` for forward graphs), `no-fuse` the same without the `fuse` pass, `none` compiles the
    /// graphs as built.
    public enum Passes: String, CaseIterable {
        case all
        case noFuse = "no-fuse"
        case none
    }

    public var passes: Passes
    public var threads: Int
    public var seed: Int
    /// Time every kernel of the training executables; each phase prints and saves its table (`profile.txt`).
    public var profile = false

    public init(passes: Passes = .all, threads: Int = RuntimeThreads.allCores, seed: Int = 0, profile: Bool = false) {
        self.passes = passes
        self.threads = threads
        self.seed = seed
        self.profile = profile
    }

    /// Runs a named pass pipeline (or nothing when passes are off).
    public func pipeline(_ name: String, _ g: Graph) throws -> Graph {
        guard passes != .none else { return g }
        let names = (GraphPasses.Passes.pipelines[name] ?? []).filter { passes == .all || $0 != "fuse" }
        let pm = PassManager(passes: try names.map(GraphPasses.Passes.named), render: { _ in "" })
        return try pm.run(g).graph
    }

    /// The training graph of `model`'s `loss` output (AdamW with decoupled weight decay, global-norm clipping).
    public func trainingGraph(_ model: Graph, weightDecay: Double, clip: Double?) throws -> Graph {
        let pre = try pipeline("training", model)
        guard let loss = pre.output("loss") else { throw TrainingError("graph \(model.name) has no 'loss' output") }
        let tg = try GraphAutodiff.trainingGraph(minimizing: loss, in: pre,
                                                 options: TrainingOptions(optimizer: .adamW(AdamW(weightDecay: weightDecay)),
                                                                          clipGlobalNorm: clip))
        return try pipeline("training-post-ad", tg.graph)
    }

    /// A forward (evaluation) executable sharing `store`.
    public func forward(_ g: Graph, store: ParameterStore) throws -> Executable {
        try Executable(try pipeline("inference", g), parameters: store, options: runtime())
    }

    public func runtime(checkFinite: [String] = []) -> RuntimeOptions {
        RuntimeOptions(threads: threads, checkFinite: checkFinite, initSeed: seed, profile: profile)
    }
}
