// `tensorledger report`: one HTML page that draws a model: where its parameters are, what
// quantization costs it per layer, what changed against another model, its memory by context.

import ArgumentParser
import TensorLedger

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a model on one self-contained HTML page: parameters per category and layer, quantization error per layer, changes against another model, memory by context length.",
        discussion: "The page has no script and fetches nothing: open it offline, print it. --json prints its figures instead.")

    @Argument(help: "A checkpoint (file, index or directory), a .tlm or a GGUF file.", completion: .file())
    var model: String

    @Option(name: [.customShort("o"), .long], help: "The page to write (default report.html; with --json, none unless given). An earlier report is replaced; any other file only with --force.", completion: .file(extensions: ["html"]))
    var output: String?

    @Option(help: "A second model of the same architecture (a fine-tune, a converted file): map what changed.", completion: .file())
    var compare: String?

    @Option(help: ArgumentHelp("The scheme or mix whose quantization error is mapped, measured as convert --report does without writing a file (default Q4_K_M), or none.", valueName: "scheme"),
            transform: Report.weights)
    var weights: WeightChoice? = .mix(.q4_k_m)

    /// A scheme or mix by its name, or nil for "none".
    static func weights(_ name: String) throws -> WeightChoice? {
        if name.lowercased() == "none" { return nil }
        guard let choice = WeightChoice(argument: name) else {
            throw ValidationError("--weights must be none or one of \(WeightChoice.allNames.joined(separator: ", ")).")
        }
        return choice
    }

    @Option(parsing: .unconditional, help: "The longest context in the memory chart (default: the model's).")
    var context: Int?

    @Option(help: "How the KV cache keeps keys and values in the memory chart: f16 (the default), f32 or q8.")
    var kv: KVCacheType = .f16

    @Option(parsing: .unconditional, help: "How many of the most-changed tensors to list with --compare.")
    var top: Int = 10

    @Option(name: [.customShort("t"), .long], parsing: .unconditional, help: "Threads to quantize with (default: the cores this process may use).")
    var threads: Int?

    @Flag(help: "Replace OUTPUT even if it is not an earlier report.")
    var force = false

    @OptionGroup var output_: OutputOptions

    func validate() throws {
        if let context, context < 1 || context > 1 << 24 { throw ValidationError("--context must be between 1 and 16,777,216.") }
        guard top >= 0 else { throw ValidationError("--top must not be negative.") }
        if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be between 1 and 64.") }
    }

    func run() throws {
        var options = ModelReport.Options()
        options.weights = weights
        options.compare = compare
        options.top = top
        options.context = context
        options.cache = kv
        options.threads = threads ?? min(availableCores(), 64)
        options.interrupted = { Interrupts.isRequested }
        Interrupts.stopGracefully()
        let path = output ?? (output_.json ? nil : "report.html")
        let inputs = [model] + [compare].compactMap { $0 }
        try reportingErrors(json: output_.json) {
            // Checked before the work: a page that could not be written is known at once.
            if let path { try ReportPage.checkTarget(path, force: force, protecting: inputs) }
            let bar = Console.stderrIsTerminal && !output_.json && options.weights != nil ? ProgressBar(label: "measuring " + (weights?.name ?? "")) : nil
            let report = try ModelReport.make(model, options: options, progress: bar.map { b in { b.update($0, of: $1) } })
            bar?.finish()
            if let path { try ReportPage.write(report, to: path, force: force, protecting: inputs) }
            if output_.json {
                print(report.json.serialized())
            } else {
                report.warnings.forEach(printWarning)
                printReport(report.summaryLine(written: path))
            }
        }
    }
}
