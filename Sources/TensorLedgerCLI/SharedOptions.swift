// Options several commands share, each declared once: the model to load and its
// threads, the prompt, sampling, output as JSON; and the enums the parser checks.

import ArgumentParser
import TensorLedger

/// Options every reporting command shares.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print machine-readable JSON on stdout instead of text.")
    var json = false
}

/// The model a command runs and the threads it runs on.
struct ModelArguments: ParsableArguments {
    @Argument(help: "A .tlm file, a GGUF file, or a checkpoint directory (model.safetensors, config.json, tokenizer.json).",
              completion: .file())
    var model: String

    @Option(name: [.customShort("t"), .long], parsing: .unconditional, help: "Threads for the matrix products (default: the cores this process may use).")
    var threads: Int?

    @Option(help: "How the KV cache keeps keys and values: f16 (half of f32's memory; the default), f32, or q8 (Q8_0 blocks of 32, 53% of f16's; heads a multiple of 32 wide).")
    var kv: KVCacheType = .f16

    @Option(help: ArgumentHelp("Which variant of the kernels runs (default: the best this CPU has). A lower one shows what a machine without the higher one would run.",
                               valueName: KernelISA.allCases.map(\.name).joined(separator: "|")))
    var kernels: KernelISA?

    func validate() throws {
        if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be between 1 and 64.") }
        if let kernels, !KernelISA.available.contains(kernels) {
            throw ValidationError("--kernels \(kernels.name): this CPU runs \(KernelISA.available.map(\.name).joined(separator: ", ")).")
        }
    }

    /// The threads asked for, or the cores the process may run on (its CPU affinity).
    var threadCount: Int { threads ?? min(availableCores(), 64) }

    /// The kernels asked for, or the best the CPU has.
    var kernelChoice: KernelISA { kernels ?? .detected }

    func load() throws -> any LanguageModel { try Self.load(model, threads: threadCount, kernels: kernelChoice, cache: kv) }

    /// Loads a model, saying on stderr what loading changed about its weights.
    static func load(_ path: String, threads: Int, kernels: KernelISA, cache: KVCacheType) throws -> any LanguageModel {
        let m = try ModelLoader.load(path, threads: threads, kernels: kernels, cache: cache)
        m.notes.forEach(printWarning)
        return m
    }
}

/// The text a model continues: given on the command line, or read from a file or stdin.
struct PromptArguments: ParsableArguments {
    @Option(name: [.customShort("p"), .long], help: "The text to continue.")
    var prompt: String?

    @Option(name: [.customShort("f"), .long], help: "Read the prompt from a file ('-': standard input).", completion: .file())
    var promptFile: String?

    func validate() throws {
        if prompt != nil && promptFile != nil { throw ValidationError("Give one of --prompt and --prompt-file, not both.") }
        // Neither: the prompt comes from standard input, unless a person would have to type it.
        if prompt == nil && promptFile == nil && Console.stdinIsTerminal {
            throw ValidationError("Give the text with --prompt (-p), --prompt-file (-f), or on standard input.")
        }
    }

    /// The prompt, read no further than `model`'s context can hold.
    func text(for model: any LanguageModel) throws -> String {
        if let prompt { return prompt }
        return try Generator.readPrompt(promptFile ?? "-", model: model)
    }
}

struct SamplingArguments: ParsableArguments {
    // Numbers are taken as they come (`--temperature -1` is refused for its value, not
    // taken for an option).
    @Option(parsing: .unconditional, help: "Softmax temperature; 0 picks the most likely token every time.")
    var temperature: Float = SamplingOptions().temperature

    @Option(parsing: .unconditional, help: "Sample only from the k most likely tokens (0: all).")
    var topK: Int = SamplingOptions().topK

    @Option(parsing: .unconditional, help: "Sample only from the most likely tokens whose probabilities add up to p.")
    var topP: Float = SamplingOptions().topP

    @Option(parsing: .unconditional, help: "Sample only from tokens at least this fraction as likely as the most likely one (0: off).")
    var minP: Float = SamplingOptions().minP

    @Option(parsing: .unconditional, help: "Penalize tokens already in the text (1: off).")
    var repeatPenalty: Float = SamplingOptions().repeatPenalty

    @Option(parsing: .unconditional, help: "Random seed: the same seed gives the same text (default: a new one each run, printed with the statistics).")
    var seed: UInt64?

    @Flag(help: "Never pick an end-of-text token: generate until -n or the context ends.")
    var ignoreEos = false

    /// The seed of a run without --seed: drawn once per process.
    static let drawnSeed = SamplingOptions.randomSeed()

    /// The options for `model`: with --ignore-eos, its end-of-text (special) tokens are never picked.
    func options(for model: any LanguageModel) -> SamplingOptions {
        var o = options
        if ignoreEos { o.banned = Set(model.tokenizer.addedTokens.filter(\.special).map(\.id)) }
        return o
    }

    var options: SamplingOptions {
        var o = SamplingOptions()
        o.temperature = temperature
        o.topK = topK
        o.topP = topP
        o.minP = minP
        o.repeatPenalty = repeatPenalty
        o.seed = seed ?? Self.drawnSeed
        return o
    }

    func validate() throws {
        do { try options.validate() } catch { throw ValidationError(commandLineWording(error)) }
    }
}

extension WeightChoice: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allNames }
    public static var defaultCompletionKind: CompletionKind { .list(allNames) }
    public var defaultValueDescription: String { name }
}

extension KernelISA: ExpressibleByArgument {
    public init?(argument: String) {
        guard let isa = Self.allCases.first(where: { $0.name == argument.lowercased() }) else { return nil }
        self = isa
    }
    public static var allValueStrings: [String] { allCases.map(\.name) }
}

extension KVCacheType: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// The element types a synthetic checkpoint can be written in, named in any case.
enum FloatType: String, CaseIterable, ExpressibleByArgument {
    case f32, f16, bf16
    init?(argument: String) { self.init(rawValue: argument.lowercased()) }
    var dtype: DType { WeightScheme(rawValue: rawValue)!.storageDType }
}
