import ArgumentParser
import BLIP2HF
import Foundation
import GraphIO
import GraphIR

/// `graphc blip2`: work with Hugging Face BLIP-2 checkpoints.
struct BLIP2Group: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blip2",
        abstract: "Run Hugging Face BLIP-2 checkpoints (see Docs/Checkpoints.md).",
        subcommands: [BLIP2RunCommand.self]
    )
}

/// `graphc blip2 run`: checkpoint folder + inputs file in, outputs file out, as `transformers` computes them.
struct BLIP2RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Evaluate a BLIP-2 checkpoint on a safetensors inputs file and write the outputs.",
        discussion: """
            --checkpoint is a Hugging Face model folder (config.json plus model.safetensors or a sharded index). --inputs holds tensors named as the transformers forward arguments: pixel_values, input_ids, attention_mask, and labels when a loss is wanted (Blip2Processor layout: input_ids start with num_query_tokens image placeholders when image_token_index is set; rows right-padded).

            Outputs (safetensors): vision_last_hidden_state, qformer_last_hidden_state, language_projection_output, logits, loss; for --model retrieval itm_logits and logits_per_image. --grads adds grad.<parameter name> for every parameter trainable in stage 2 (Q-Former, query_tokens, vision post_layernorm, language_projection).

              graphc blip2 run --checkpoint Tests/BLIP2Tests/Fixtures/opt-a --model conditional-generation \\
                  --inputs Tests/BLIP2Tests/Fixtures/opt-a/inputs.safetensors --outputs /tmp/out.safetensors --grads
            """
    )

    @Option(help: ArgumentHelp("Hugging Face model folder.", valueName: "DIR"))
    var checkpoint: String

    @Option(help: ArgumentHelp("conditional-generation (Blip2ForConditionalGeneration, Blip2Model) or retrieval (Blip2ForImageTextRetrieval).", valueName: "MODEL"))
    var model: String

    @Option(help: ArgumentHelp("Inputs file.", valueName: "FILE.safetensors"))
    var inputs: String

    @Option(help: ArgumentHelp("Outputs file (written atomically).", valueName: "FILE.safetensors"))
    var outputs: String

    @Flag(help: "Also write the gradients of the loss with respect to the stage-2 trainable parameters.")
    var grads = false

    @Option(help: ArgumentHelp("optimized (passes, then the executor), executor (the graph as built), or interpreter (reference loops, 8 bytes per weight; small models only).", valueName: "ENGINE"))
    var engine: String = "optimized"

    func run() throws {
        do {
            let summary = try execute()
            print(summary)
        } catch let e as CLIError {
            throw e
        } catch {
            throw CLIError("\(error)")
        }
    }

    /// The command as a function (tests call it without a process); returns the one-line summary it prints.
    func execute() throws -> String {
        guard let kind = RunModel(rawValue: model) else {
            throw CLIError("--model must be one of \(RunModel.allCases.map(\.rawValue).joined(separator: ", ")), got '\(model)'")
        }
        let evaluator: Evaluator
        switch engine {
        case "optimized": evaluator = .optimizedExecutor
        case "executor": evaluator = .executor
        case "interpreter": evaluator = .interpreter
        default: throw CLIError("--engine must be optimized, executor or interpreter, got '\(engine)'")
        }
        let runner = try BLIP2Run(folder: checkpoint, model: kind)
        let given = try RunInputs.load(path: inputs, config: runner.config, model: kind)
        let timer = PhaseTimer()
        let values = try runner.run(given, grads: grads, evaluate: evaluator, timer: timer)
        try SafetensorsWriter.write(values, metadata: ["producer": "graphc blip2 run", "checkpoint": checkpoint], to: outputs)
        var line = "wrote \(values.count) tensors to \(outputs)"
        if let loss = values["loss"] { line += " (loss \(String(format: "%.6f", loss.scalar)))" }
        return line + "; " + timer.summary
    }
}
