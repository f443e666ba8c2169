// `tensorledger run` and `tensorledger next`: generate text, or show the next-token table.

import ArgumentParser
import TensorLedger

struct SamplingArguments: ParsableArguments {
    @Option(help: "Softmax temperature; 0 picks the most likely token every time.")
    var temperature: Float = 0.8

    @Option(help: "Sample only from the k most likely tokens (0: all).")
    var topK: Int = 40

    @Option(help: "Sample only from the most likely tokens whose probabilities add up to p.")
    var topP: Float = 0.95

    @Option(help: "Sample only from tokens at least this fraction as likely as the most likely one (0: off).")
    var minP: Float = 0

    @Option(help: "Penalize tokens already in the text (1: off).")
    var repeatPenalty: Float = 1

    @Option(help: "Random seed: the same seed gives the same text.")
    var seed: UInt64 = 42

    var options: SamplingOptions {
        var o = SamplingOptions()
        o.temperature = temperature
        o.topK = topK
        o.topP = topP
        o.minP = minP
        o.repeatPenalty = repeatPenalty
        o.seed = seed
        return o
    }

    func validate() throws {
        do { try options.validate() } catch { throw ValidationError(error.description) }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a GPT-2 or LLaMA-family model (.tlm file or safetensors checkpoint), streaming tokens as they are made.")

    @Argument(help: "A .tlm file, or a directory with model.safetensors, config.json and tokenizer.json.")
    var model: String

    @Option(help: "The text to continue.")
    var prompt: String?

    @Option(name: [.customShort("f"), .long], help: "Read the prompt from a file ('-': standard input).")
    var promptFile: String?

    @Flag(help: "Print only the generated text, not the prompt before it.")
    var noEcho = false

    @Option(help: "Stop where this text appears (not printed); repeat for several.")
    var stop: [String] = []

    @Option(name: .short, help: "How many tokens to generate.")
    var n: Int = 128

    @OptionGroup var sampling: SamplingArguments

    @Option(help: "Threads for the matrix products.")
    var threads: Int = 2

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (prompt == nil) != (promptFile == nil) else { throw ValidationError("Give exactly one of --prompt or --prompt-file.") }
        guard n >= 0 else { throw ValidationError("-n must not be negative.") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64.") }
        guard !stop.contains("") else { throw ValidationError("--stop must not be empty.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let prompt = try prompt ?? String(decoding: readWholeFile(promptFile!, limit: 64 << 20, dashIsStandardInput: true), as: UTF8.self)
            let start = monotonicSeconds()
            let m = try loadModel(model, threads: threads)
            let loadSeconds = monotonicSeconds() - start
            let generator = Generator(model: m)
            let result = try generator.generate(prompt: prompt, maxTokens: n, sampling: sampling.options, stop: stop, onStart: { room in
                if room < n { printWarning("-n \(n) does not fit: the context of \(m.contextLength) tokens leaves room for \(room) after the prompt") }
                if !output.json && !noEcho { Console.writeOut(prompt) }
            }, onText: { piece in
                if !output.json { Console.writeOut(piece) }
            })
            let report = RunReport(result: result, loadSeconds: loadSeconds, model: m)
            if output.json {
                print(report.json.serialized())
                return
            }
            Console.writeOut("\n")
            if result.stopReason == .contextFull {
                printWarning("stopped: the context of \(m.contextLength) tokens is full")
            }
            Console.writeErr(report.statsLine + "\n")
        }
    }
}

struct Next: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the most likely next tokens after a prompt, with logits and probabilities at a temperature.")

    @Argument(help: "A .tlm file or a checkpoint directory.")
    var model: String

    @Option(help: "The text so far.")
    var prompt: String

    @Option(help: "How many candidates to show.")
    var top: Int = 10

    @Option(help: "Softmax temperature for the probabilities (0 is shown as 1).")
    var temperature: Float = 1

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be positive.") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be 0 or positive.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let report = try Generator(model: try loadModel(model)).nextTokenReport(prompt: prompt, top: top, temperature: temperature)
            print(output.json ? report.json.serialized() : report.textReport())
        }
    }
}
