// `tensorledger plan`: will it fit? Memory to run a model at a context length, per weight scheme.

import ArgumentParser
import TensorLedger

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "How much memory a model takes to run at a context length, and its .tlm size, per weight scheme (headers only).",
        discussion: "Presets: " + ModelConfig.presets.map(\.name).joined(separator: ", "))

    @Argument(help: "A checkpoint (file, index or directory), a .tlm or a GGUF file. Omit with --config or --preset.", completion: .file())
    var model: String?

    @Option(help: "A Hugging Face config.json alone, without weights.", completion: .file(extensions: ["json"]))
    var config: String?

    @Option(help: "A known model shape (for example gpt3-175b, llama-3.2-1b).", completion: .list(ModelConfig.presets.map(\.name)))
    var preset: String?

    @Option(parsing: .unconditional, help: "Tokens in the context (default: the model's).")
    var context: Int?

    @Option(help: "One weight scheme or mix (\(WeightChoice.allNames.joined(separator: ", "))) instead of the usual columns.")
    var weights: WeightChoice?

    @Option(parsing: .unconditional, help: "Sequences run at once: the KV cache and activations are per sequence.")
    var batch: Int = 1

    @Option(help: "How the KV cache keeps keys and values, as the runner's --kv: f16 (the default), f32 or q8.")
    var kv: KVCacheType = .f16

    @Option(parsing: .upToNextOption, help: "As convert's --keep: tensors to leave in float, a category (embedding, unembedding, ...) or a name glob ('*wte*').")
    var keep: [String] = []

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if [model != nil, config != nil, preset != nil].filter({ $0 }).count != 1 {
            throw ValidationError("Give exactly one of MODEL, --config or --preset.")
        }
        if let context, context < 1 || context > 1 << 24 { throw ValidationError("--context must be between 1 and 16,777,216.") }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be between 1 and 4,096.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let (tensors, modelConfig, source, warnings): ([TensorInfo], ModelConfig?, String, [String])
            if let preset {
                let c = try ModelConfig.preset(preset)
                (tensors, modelConfig, source, warnings) = (c.syntheticTensors(), c, "preset \(preset)", [])
            } else if let config {
                let c = try ModelConfig.load(config)
                (tensors, modelConfig, source, warnings) = (c.syntheticTensors(), c, config, [])
            } else {
                (tensors, modelConfig, source, warnings) = try ModelSource.tensors(model!)
            }
            guard let modelConfig else { throw ModelLoadError.noConfig(source: source) }
            // Plans only what the runner would run.
            if model != nil { try ModelLoader.checkRunnable(modelConfig, tensors: tensors, source: source) }
            let schemes = weights.map { [$0] } ?? MemoryPlan.defaultSchemes
            let plan = try MemoryPlan(tensors: tensors, config: modelConfig, source: source, context: context ?? modelConfig.contextLength,
                                      batch: batch, schemes: schemes, stored: model != nil, keep: keep, cache: kv)
            warnings.forEach(printWarning)
            if output.json { print(plan.json.serialized()) } else { printReport(plan.textReport()) }
        }
    }
}
