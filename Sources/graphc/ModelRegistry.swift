import GraphIR

/// What the command line passes to a model builder. Each model says which of these it reads; the registry
/// rejects the others, so a flag never silently does nothing.
public struct ModelOptions: Sendable, Equatable {
    /// A named size (`tiny`, `base`, ...); nil means the model's default config.
    public var config: String?
    /// Training stage (BLIP-2: 1 or 2).
    public var stage: Int?
    /// Language-model family (BLIP-2 stage 2: `opt`, `t5`, `llama`).
    public var llm: String?

    public init(config: String? = nil, stage: Int? = nil, llm: String? = nil) {
        self.config = config
        self.stage = stage
        self.llm = llm
    }
}

/// One buildable model: a name for the command line, the configs it knows, and a builder.
public struct ModelEntry {
    public var name: String
    public var summary: String
    /// Config names; the first is the default.
    public var configs: [String]
    /// Which of `--stage` and `--llm` the model reads (`--config` is always read).
    public var acceptsStage: Bool
    public var acceptsLLM: Bool
    public var build: (ModelOptions) throws -> Graph
    /// Extra `--stats` section of a model (e.g. BLIP-2's parameter counts per component).
    public var statsReport: ((Graph) -> String)?

    public init(name: String, summary: String, configs: [String], acceptsStage: Bool = false, acceptsLLM: Bool = false,
                statsReport: ((Graph) -> String)? = nil, build: @escaping (ModelOptions) throws -> Graph) {
        self.name = name
        self.summary = summary
        self.configs = configs
        self.acceptsStage = acceptsStage
        self.acceptsLLM = acceptsLLM
        self.statsReport = statsReport
        self.build = build
    }
}

/// The models `graphc dump MODEL` can build. To add one, append a `ModelEntry` to `ModelRegistry.standard`
/// (its builder lives next to the model, not here).
public struct ModelRegistry {
    public private(set) var entries: [ModelEntry]

    public init(_ entries: [ModelEntry]) { self.entries = entries }

    /// Every model shipped with graphc.
    public static let standard = ModelRegistry([
        .mlp,
        .transformerBlock,
        .blip2,
    ])

    public var names: [String] { entries.map(\.name) }

    public func entry(named name: String) -> ModelEntry? { entries.first { $0.name == name } }

    /// Builds `name` with `options`, checking the options against what the model accepts.
    public func build(_ name: String, _ options: ModelOptions) throws -> Graph {
        guard let e = entry(named: name) else {
            throw CLIError("'\(name)' is neither a file nor a known model (models: \(names.joined(separator: ", ")))")
        }
        if let c = options.config, !e.configs.contains(c) {
            throw CLIError("model '\(name)' has no config '\(c)' (configs: \(e.configs.joined(separator: ", ")))")
        }
        if options.stage != nil && !e.acceptsStage { throw CLIError("model '\(name)' takes no --stage") }
        if options.llm != nil && !e.acceptsLLM { throw CLIError("model '\(name)' takes no --llm") }
        return try e.build(options)
    }
}
