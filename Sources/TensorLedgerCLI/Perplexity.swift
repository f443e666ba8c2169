// `tensorledger perplexity`: a model (or two) measured on a text.

import ArgumentParser
import TensorLedger

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity over a text file; with --compare, the mean KL divergence and top-1 agreement of a second model.",
        discussion: """
            The text is cut into consecutive windows of --context tokens; in each, every token but the first is \
            predicted from those before it. Ctrl-C stops after the current window and prints the figures so far \
            (exit status 130).
            """)

    @OptionGroup var model: ModelArguments

    // --file names a file in every command; --text is literal text (tokenize).
    @Option(name: [.customShort("f"), .long], help: "The text file to evaluate ('-': standard input).", completion: .file())
    var file: String

    @Option(parsing: .unconditional, help: "Window length in tokens (default: 512, or the model's context when shorter).")
    var context: Int?

    @Option(parsing: .unconditional,
            help: "llama-perplexity's method, to compare with its figures: whole chunks of the window, BOS first, second halves scored; at most N chunks (0: all).")
    var chunks: Int?

    @Option(help: "A second model to compare with the first (for example its q8 .tlm, or the same model with another --compare-kv).", completion: .file())
    var compare: String?

    @Option(help: "How the second model's KV cache keeps keys and values (default: as --kv), to measure what a cache type costs.")
    var compareKv: KVCacheType?

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let chunks, chunks < 0 { throw ValidationError("--chunks must be 0 (all) or a number of chunks.") }
        if compareKv != nil && compare == nil { throw ValidationError("--compare-kv needs --compare (the model to run with that cache).") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let textBytes = try readWholeFile(file, dashIsStandardInput: true)
            // After reading the text: a Ctrl-C while standard input is read ends at once.
            Interrupts.stopGracefully()
            let m = try model.load()
            let other = try compare.map { try ModelArguments.load($0, threads: model.threadCount, kernels: model.kernelChoice, cache: compareKv ?? model.kv) }
            let ids = m.tokenizer.encode(String(decoding: textBytes, as: UTF8.self))
            let bar = Console.stderrIsTerminal && !output.json ? ProgressBar(label: "perplexity", unit: .tokens) : nil
            let r = try Perplexity.evaluate(m, ids: ids, context: context, method: chunks.map { .chunks(limit: $0 == 0 ? nil : $0) } ?? .windows,
                                            compareWith: other,
                                            progress: bar.map { b in { b.update($0, of: $1) } }, interrupted: { Interrupts.isRequested })
            bar?.finish()
            if output.json { print(r.json.serialized()) } else { printReport(r.textReport(model: model.model, compare: compare)) }
            if r.interrupted { throw ExitCode(Interrupts.exitStatus) }
        }
    }
}
