// `tensorledger trace`: one forward pass, stage by stage.

import ArgumentParser
import TensorLedger

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Show one forward pass stage by stage: tokens, embeddings, each block's attention and MLP, logits, probabilities.")

    @OptionGroup var model: ModelArguments

    @OptionGroup var prompt: PromptArguments

    @Option(parsing: .unconditional, help: "How many next-token candidates to show.")
    var top: Int = 5

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be positive.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let m = try model.load()
            let trace = try Generator(model: m).trace(prompt: try prompt.text(for: m), top: top)
            if output.json { print(trace.json.serialized()) } else { printReport(trace.textReport(width: Console.terminalWidth)) }
        }
    }
}
