import ArgumentParser

/// `graphc models`: what `graphc dump MODEL` can build.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models in the registry with their configs.",
        discussion: "The first config of each model is its default. Build one with `graphc dump NAME --config CONFIG`."
    )

    func run() throws {
        print(Models.listing(ModelRegistry.standard), terminator: "")
    }

    static func listing(_ registry: ModelRegistry) -> String {
        let width = registry.names.map(\.count).max() ?? 0
        var out = ""
        for e in registry.entries {
            var flags = "--config " + e.configs.joined(separator: "|")
            if e.acceptsStage { flags += " --stage N" }
            if e.acceptsLLM { flags += " --llm NAME" }
            out += e.name + String(repeating: " ", count: width - e.name.count) + "  " + e.summary + "\n"
            out += String(repeating: " ", count: width) + "  " + flags + "\n"
        }
        return out
    }
}
