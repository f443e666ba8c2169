// `tensorledger convert`: a checkpoint or a GGUF into one .tlm or GGUF file.

import ArgumentParser
import TensorLedger

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a checkpoint (with config.json and tokenizer.json beside it) into one .tlm or GGUF file, or a GGUF file into a .tlm file or another GGUF (as llama-quantize).")

    @Argument(help: "A .safetensors file, a sharded index, a directory holding either, or a GGUF file.", completion: .file())
    var input: String

    @Argument(help: "The file to write: .tlm, or .gguf for llama.cpp (see --format).", completion: .file())
    var output: String

    @Option(help: ArgumentHelp("How to store the weight matrices: q8 (int8, blocks of 32; Q8_0 in GGUF), q8-row (int8, a scale per row), f16, bf16, f32, or a llama-quantize mix: Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, IQ4_NL (any case; chosen per tensor as llama-quantize does).", valueName: "scheme"))
    var weights: WeightChoice = .scheme(.q8)

    @Option(parsing: .upToNextOption, help: "Keep matching tensors in float: a category (embedding, unembedding, ...) or a name glob ('*wte*').")
    var keep: [String] = []

    @Option(parsing: .unconditional, help: "zstd level for float tensors and the embedded files (1-19; default 3).")
    var zstd: Int32?

    @Flag(help: "Store everything uncompressed.")
    var noCompress = false

    @Option(name: [.customShort("t"), .long], parsing: .unconditional, help: "Threads to quantize with (default: the cores this process may use).")
    var threads: Int?

    @Flag(help: "Replace OUTPUT if it exists.")
    var force = false

    @Flag(help: "From a GGUF, quantize matrices that are already quantized again (rounded twice; as llama-quantize's flag).")
    var allowRequantize = false

    @Flag(help: "Print what would be written, tensor by tensor, without writing anything.")
    var dryRun = false

    @Flag(help: "Print a per-tensor table with the quantization error (RMSE, max error, SNR).")
    var report = false

    @Option(help: "The output format: tlm, or gguf (what llama.cpp runs; q8 is written as Q8_0). Default: by OUTPUT's extension.")
    var format: String?

    @OptionGroup var output_: OutputOptions

    func validate() throws {
        guard zstd.map({ (1...19).contains($0) }) ?? true else { throw ValidationError("--zstd must be between 1 and 19.") }
        guard !(noCompress && zstd != nil) else { throw ValidationError("--no-compress and --zstd contradict each other; give one.") }
        guard format == nil || ["tlm", "gguf"].contains(format!.lowercased()) else { throw ValidationError("--format must be tlm or gguf.") }
        if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be between 1 and 64.") }
    }

    func run() throws {
        var options = ConversionOptions()
        options.weights = weights
        options.keep = keep
        options.zstdLevel = noCompress ? nil : zstd ?? ConversionOptions().zstdLevel
        options.overwrite = force
        options.allowRequantize = allowRequantize
        options.threads = threads ?? min(availableCores(), 64)
        let bar = Console.stderrIsTerminal && !output_.json ? ProgressBar(label: "converting") : nil
        options.format = format.map { $0.lowercased() == "gguf" } ?? output.lowercased().hasSuffix(".gguf") ? .gguf : .tlm
        options.interrupted = { Interrupts.isRequested }
        Interrupts.stopGracefully()
        let result = try reportingErrors(json: output_.json) {
            defer { bar?.finish() }
            return try Converter.convert(input: input, output: output, options: options, dryRun: dryRun,
                                         progress: bar.map { b in { b.update($0, of: $1) } })
        }
        if output_.json {
            print(result.json.serialized())
            return
        }
        result.warnings.forEach(printWarning)
        if report || dryRun { printReport(result.table(quality: report && !dryRun)) }
        printReport(result.summaryLine)
    }
}
