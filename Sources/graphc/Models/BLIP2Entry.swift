import BLIP2
import GraphIR

extension ModelEntry {
    /// BLIP-2 (Sources/BLIP2): `--stage 1` (ITC + ITM + ITG on the Q-Former, the default) or `--stage 2` (soft
    /// prompt into a frozen LLM: `--llm opt` (default), `t5` or `llama`). `paper` builds the published sizes
    /// without parameter storage, so `--stats` reports the paper's parameter counts.
    static let blip2 = ModelEntry(
        name: "blip2", summary: "BLIP-2: frozen ViT + trainable Q-Former (+ frozen LLM in stage 2)",
        configs: ["tiny", "test", "hf-test", "paper"], acceptsStage: true, acceptsLLM: true,
        statsReport: { g in "parameters by component (spec §1.3):\n" + ParameterReport(g).table.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") }
    ) { options in
        let stageNumber = options.stage ?? 1
        guard let stage = BLIP2Stage(rawValue: stageNumber) else {
            throw CLIError("model 'blip2': --stage must be 1 or 2, got \(stageNumber)")
        }
        let llmName = options.llm ?? LLMKind.opt.rawValue
        guard let llm = LLMKind(rawValue: llmName) else {
            throw CLIError("model 'blip2': --llm must be one of \(LLMKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(llmName)'")
        }
        if stage == .one && options.llm != nil { throw CLIError("model 'blip2': --llm applies to --stage 2 only") }
        let config = try BLIP2Config.named(options.config ?? "tiny", llm: llm)
        return try BLIP2Model.build(config: config, stage: stage)
    }
}
