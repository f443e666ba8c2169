// The one interface every model family implements and every command uses (`run`,
// `next`, `trace`, `perplexity`), and the one place a file becomes a model: the family
// comes from the configuration (config.json's `model_type`, or the .tlm header's copy).

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

public protocol LanguageModel: AnyObject, Sendable {
    var config: ModelConfig { get }
    var tokenizer: BPETokenizer { get }
    /// The chat template and the BOS/EOS names the file carries (empty when it has none).
    var chat: TokenizerConfig { get }
    /// The file or directory the weights came from.
    var source: String { get }
    var threads: Int { get }
    /// Positions the model attends over (for Mistral, no longer than its sliding window).
    var contextLength: Int { get }
    /// How the big matrices are stored, for reports: "q8", "f16", or a GGUF's types by the
    /// bytes they hold ("Q4_K+Q6_K").
    var weightFormat: String { get }
    /// Bytes of weights one decoded token reads: what bounds decoding speed.
    var weightBytesPerToken: Int { get }
    /// What loading found worth a notice (a tied head the file also stores).
    var notes: [String] { get }
    /// The C kernels' variant this model's products run, on every thread that works on them.
    var kernels: KernelISA { get }
    /// How its states keep keys and values.
    var cache: KVCacheType { get }

    /// A KV cache and activation buffers for this model.
    func makeState() -> InferenceState

    /// Runs `tokens` at positions state.position…, appends them to the cache, and writes the
    /// logits of the last token (or of every token, with `allLogits`) into state.logits.
    func forward(_ tokens: [Int], state: InferenceState, allLogits: Bool, observer: ForwardObserver?) throws

    /// The matrices and steps of a stage as this family names them (for `trace`).
    func describe(_ stage: ForwardStage) -> [TraceStep]
}

/// The stages `trace` reports, in every family.
public enum ForwardStage: Sendable {
    case embedding, attention, mlp, finalNorm, unembedding
}

extension LanguageModel {
    public var vocabularySize: Int { config.vocabSize }

    /// Every family's state has the same shape, from the config and the context.
    public func makeState() -> InferenceState {
        InferenceState(shape: StateShape(config: config, contextLength: contextLength, cache: cache))
    }

    public func forward(_ tokens: [Int], state: InferenceState, allLogits: Bool = false) throws {
        try forward(tokens, state: state, allLogits: allLogits, observer: nil)
    }

    /// What every family's forward pass starts with: nothing to do for no tokens; room in
    /// the context and ids in the vocabulary checked; the cache and buffers grown for the
    /// batch; then `body` runs with the model's kernel variant.
    package func prepareForward(_ tokens: [Int], state: InferenceState, allLogits: Bool, ops: any ComputeBackend, _ body: () throws -> Void) throws {
        guard !tokens.isEmpty else { return }
        let end = state.position + tokens.count
        guard end <= contextLength else { throw GenerationError.contextFull(contextLength: contextLength, needed: end) }
        for t in tokens where t < 0 || t >= vocabularySize { throw TokenizerError.unknownTokenID(t, vocabularySize: vocabularySize) }
        try state.reserveCache(positions: end)
        state.reserve(tokens: tokens.count, allLogits: allLogits)
        try ops.run(body)
    }
}

public enum ModelLoader {
    /// A configuration the weights and the runner agree with: as many layers as the
    /// tensors hold, every tensor the configuration implies present in its shape, and no
    /// setting the runner would silently get wrong. `plan` asks the same before it plans.
    public static func checkRunnable(_ config: ModelConfig, tensors: [TensorInfo], source: String) throws {
        try config.checkLayers(tensorNames: tensors.map(\.name), source: source)
        let byName = Dictionary(tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        let runs = config.record.runs
        let implied = runs ? config.syntheticTensors() : []
        // Every parameter is read: one the forward pass would skip makes it silently wrong.
        let impliedNames = Set(implied.map(\.name))
        for t in runs ? tensors : [] where !impliedNames.contains(t.name) && t.name != "lm_head.weight" {
            guard TensorClassifier.role(of: t, family: config.family) != .buffer else { continue }
            throw ModelLoadError.unusedTensor(source: source, name: t.name, family: config.record.displayName)
        }
        for expected in implied {
            guard let shape = byName[expected.name] else {
                // A tied head is the embedding; the runner finds it there.
                if expected.name.hasSuffix("lm_head.weight") || expected.name == "embed_out.weight" { continue }
                throw ModelLoadError.missingTensor(source: source, name: expected.name)
            }
            guard shape == expected.shape else {
                throw ModelLoadError.wrongShape(source: source, name: expected.name, expected: expected.shape, found: shape)
            }
        }
        if let setting = config.unsupportedByRunner.first, let space = setting.firstIndex(of: " ") {
            throw ModelLoadError.unsupportedSetting(source: source, field: String(setting[..<space]), value: String(setting[setting.index(after: space)...]))
        }
    }

    /// Loads a .tlm file, a GGUF file or a safetensors checkpoint (file, index or
    /// directory) as the family its configuration names.
    public static func load(_ path: String, threads: Int = 2, kernels: KernelISA = .detected, cache: KVCacheType = .f16) throws -> any LanguageModel {
        let file = try ModelFile.open(path)
        // Every checksum and every padding byte of a .tlm file, before any weight is used.
        if case .tlm(let t) = file { try t.verify(threads: threads) }
        guard let config = try file.config() else { throw ModelLoadError.noConfig(source: file.path) }
        try checkRunnable(config, tensors: file.tensors, source: file.path)
        let headDim = StateShape(config: config, contextLength: 1).headDim
        guard cache.fits(headDim: headDim) else {
            throw GenerationError.invalidSetting(.cache, reason: "\(cache.rawValue) keeps keys and values in blocks of 32, and this model's heads are \(headDim) wide: use f16 or f32")
        }
        let threads = max(1, threads)
        let source = file.weights(config: config, threads: threads)
        let tokenizer = try source.tokenizer()
        try tokenizer.checkFits(config, source: source.sourceName)
        let chat = try file.tokenizerConfig()
        switch config.family {
        case .gpt2: return try GPT2Model(source: source, config: config, tokenizer: tokenizer, chat: chat, threads: threads, kernels: kernels, cache: cache)
        case .llama: return try LlamaModel(source: source, config: config, tokenizer: tokenizer, chat: chat, threads: threads, kernels: kernels, cache: cache)
        case .bert, .gptNeoX:
            throw ModelLoadError.unsupportedArchitecture(source: source.sourceName, family: config.record.displayName)
        }
    }
}

extension LanguageModel {
    /// The formats of `matrices`, the one holding most bytes first, joined by "+".
    package static func formatSummary(_ matrices: [WeightMatrix]) -> String {
        var bytes: [String: Int] = [:]
        for m in matrices { bytes[m.format, default: 0] += m.byteCount }
        return bytes.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key).joined(separator: "+")
    }
}
