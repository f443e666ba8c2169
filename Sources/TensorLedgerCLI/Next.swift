// `tensorledger next`: the most likely next tokens after a prompt.

import ArgumentParser
import TensorLedger

struct Next: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the most likely next tokens after a prompt, with logits and probabilities at a temperature.")

    @OptionGroup var model: ModelArguments

    @OptionGroup var prompt: PromptArguments

    @Option(parsing: .unconditional, help: "How many candidates to show.")
    var top: Int = 10

    @Option(parsing: .unconditional, help: "Softmax temperature for the probabilities (0 is shown as 1).")
    var temperature: Float = 1

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be positive.") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be 0 or positive.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let m = try model.load()
            let report = try Generator(model: m).nextTokenReport(prompt: try prompt.text(for: m), top: top, temperature: temperature)
            if output.json { print(report.json.serialized()) } else { printReport(report.textReport()) }
        }
    }
}
