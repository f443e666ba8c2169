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

    @Option(help: "Threads for the matrix products.")
    var threads: Int = 2

    func validate() throws {
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64.") }
    }

    func load() throws -> any LanguageModel { try Self.load(model, threads: threads) }

    /// Loads a model, saying on stderr what loading changed about its weights.
    static func load(_ path: String, threads: Int) throws -> any LanguageModel {
        let m = try ModelLoader.load(path, threads: threads)
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
        guard (prompt == nil) != (promptFile == nil) else { throw ValidationError("Give exactly one of --prompt or --prompt-file.") }
    }

    /// The prompt, read no further than `model`'s context can hold.
    func text(for model: any LanguageModel) throws -> String {
        if let prompt { return prompt }
        return try Generator.readPrompt(promptFile!, model: model)
    }
}

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
        do { try options.validate() } catch { throw ValidationError(commandLineWording(error)) }
    }
}

extension WeightScheme: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// The element types a synthetic checkpoint can be written in, named in any case.
enum FloatType: String, CaseIterable, ExpressibleByArgument {
    case f32, f16, bf16
    init?(argument: String) { self.init(rawValue: argument.lowercased()) }
    var dtype: DType { self == .f32 ? .float32 : (self == .f16 ? .float16 : .bfloat16) }
}
