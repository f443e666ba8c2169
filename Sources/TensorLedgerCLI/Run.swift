// `tensorledger run`: generate text, streaming tokens as they are made.

import ArgumentParser
import TensorLedger

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a GPT-2 or LLaMA-family model (.tlm, GGUF or safetensors checkpoint), streaming tokens as they are made.",
        discussion: "Ctrl-C stops generating and still prints the statistics (exit status 130).")

    @OptionGroup var model: ModelArguments

    @OptionGroup var prompt: PromptArguments

    @Flag(help: "Print only the generated text, not the prompt before it.")
    var noEcho = false

    @Option(help: "Stop where this text appears (not printed); repeat for several.")
    var stop: [String] = []

    @Option(name: .short, parsing: .unconditional, help: "How many tokens to generate.")
    var n: Int = 128

    @OptionGroup var sampling: SamplingArguments

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard n >= 0 else { throw ValidationError("-n must not be negative.") }
        guard !stop.contains("") else { throw ValidationError("--stop must not be empty.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let clock = Stopwatch()
            let m = try model.load()
            let loadSeconds = clock.seconds
            let prompt = try prompt.text(for: m)
            // After reading the prompt: a Ctrl-C while standard input is read ends at once.
            Interrupts.stopGracefully()
            let options = sampling.options(for: m)
            let result = try Generator(model: m).generate(prompt: prompt, maxTokens: n, sampling: options, stop: stop, onStart: { room in
                if room < n { printWarning("-n \(n) does not fit: the context of \(m.contextLength) tokens leaves room for \(room) after the prompt") }
                if !output.json && !noEcho { writeText(prompt) }
            }, onText: { piece in
                if !output.json { writeText(piece) }
            }, interrupted: { Interrupts.isRequested })
            let report = RunReport(result: result, loadSeconds: loadSeconds, model: m, seed: options.seed)
            if output.json {
                print(report.json.serialized())
            } else {
                Console.writeOut("\n")
                switch result.stopReason {
                case .contextFull: printWarning("stopped: the context of \(m.contextLength) tokens is full")
                case .interrupted: printWarning("interrupted after \(result.generatedIDs.count) tokens")
                case .endOfText where result.generatedIDs.isEmpty:
                    // An instruct model asked a bare question often ends its turn at once.
                    let chatModel = m.chat.chatTemplate != nil
                    printWarning("the model ended the text at once" + (chatModel
                        ? ": it is a chat model (it has a chat template); talk to it with `tensorledger chat`, or generate past the end with --ignore-eos"
                        : "; generate past the end with --ignore-eos"))
                default: break
                }
                Console.writeErr(report.statsLine + "\n")
            }
            if result.stopReason == .interrupted { throw ExitCode(Interrupts.exitStatus) }
        }
    }
}
