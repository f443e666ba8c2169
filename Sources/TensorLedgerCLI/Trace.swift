// `tensorledger trace` and `tensorledger perplexity`: looking at one forward pass, and
// measuring a model (or two) on a text.

import ArgumentParser
import TensorLedger

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Show one forward pass stage by stage: tokens, embeddings, each block's attention and MLP, logits, probabilities.")

    @Argument(help: "A .tlm file or a checkpoint directory.")
    var model: String

    @Option(help: "The text to run.")
    var prompt: String

    @Option(help: "How many next-token candidates to show.")
    var top: Int = 5

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be positive.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let trace = try Generator(model: try loadModel(model)).trace(prompt: prompt, top: top)
            print(output.json ? trace.json.serialized() : trace.textReport())
        }
    }
}

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity over a text file; with --compare, the mean KL divergence and top-1 agreement of a second model.",
        discussion: "The text is cut into consecutive windows of --context tokens; in each, every token but the first is predicted from those before it.")

    @Argument(help: "A .tlm file or a checkpoint directory.")
    var model: String

    @Option(help: "The text file to evaluate.")
    var text: String

    @Option(help: "Window length in tokens (default: the model's context).")
    var context: Int?

    @Option(help: "A second model to compare with the first (for example its q8 .tlm).")
    var compare: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        try reportingErrors(json: output.json) {
            let m = try loadModel(model)
            let other = try compare.map { try loadModel($0) }
            let ids = m.tokenizer.encode(String(decoding: try readWholeFile(text), as: UTF8.self))
            let r = try Perplexity.evaluate(m, ids: ids, context: context, compareWith: other)
            print(output.json ? r.json.serialized() : r.textReport(model: model, compare: compare))
        }
    }
}
