// The generation loop: encode the prompt, run it through the model in one batch, then
// sample, append and repeat, handing out text as soon as it forms whole characters.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

public struct GenerationResult: Sendable {
    public enum StopReason: String, Sendable {
        case length = "length"
        case endOfText = "end-of-text"
        case contextFull = "context-full"
        case stopString = "stop-string"
        case interrupted = "interrupted"

        /// As the statistics line says it.
        public var words: String {
            switch self {
            case .length: "the token count asked for"
            case .endOfText: "end of text"
            case .contextFull: "the context is full"
            case .stopString: "a stop string"
            case .interrupted: "interrupted"
            }
        }
    }

    public var promptIDs: [Int]
    public var generatedIDs: [Int]
    public var text: String
    public var stopReason: StopReason
    public var promptSeconds: Double
    public var generationSeconds: Double

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptIDs.count) / promptSeconds : 0 }
    /// Tokens after the first (which the prompt pass produces), per second of decoding.
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(max(generatedIDs.count - 1, 0)) / generationSeconds : 0
    }

    public var json: JSONValue {
        .object(JSONObject([
            "prompt_ids": .array(promptIDs.map { .int($0) }),
            "generated_ids": .array(generatedIDs.map { .int($0) }),
            "text": .string(text),
            "stop_reason": .string(stopReason.rawValue),
            "prompt_seconds": .double(promptSeconds),
            "generation_seconds": .double(generationSeconds),
            "prompt_tokens_per_second": .double(promptTokensPerSecond),
            "generation_tokens_per_second": .double(generationTokensPerSecond),
        ]))
    }
}

public final class Generator {
    public let model: any LanguageModel
    package let state: InferenceState

    public init(model: any LanguageModel) {
        self.model = model
        state = model.makeState()
    }

    /// Generates up to `maxTokens` tokens after `prompt`; `onText` receives each piece of
    /// text as soon as it is complete.
    /// `onStart` runs once the prompt is known to fit, before any work, with the number of
    /// tokens the context leaves room for (a caller can say so when that is fewer than asked).
    /// Generation ends where any of `stop` appears; the stop string is neither shown nor kept.
    /// `interrupted` is asked before each token; when it says so, generation ends there.
    public func generate(prompt: String, maxTokens: Int, sampling: SamplingOptions, stop: [String] = [],
                         onStart: (_ room: Int) -> Void = { _ in }, onText: (String) -> Void = { _ in },
                         interrupted: () -> Bool = { false }) throws -> GenerationResult {
        try sampling.validate()
        guard maxTokens >= 0 else { throw GenerationError.invalidSetting(.maxTokens, reason: "must not be negative") }
        return try generate(promptIDs: try promptIDs(prompt), maxTokens: maxTokens, sampling: sampling, stop: stop, onStart: onStart, onText: onText,
                            interrupted: interrupted)
    }

    public func generate(promptIDs: [Int], maxTokens: Int, sampling: SamplingOptions, stop stopStrings: [String] = [],
                         onStart: (_ room: Int) -> Void = { _ in }, onText: (String) -> Void = { _ in },
                         interrupted: () -> Bool = { false }) throws -> GenerationResult {
        try check(promptIDs)
        // Each token but the last is run to make the next, so a full context ends one past it.
        onStart(model.contextLength - promptIDs.count + 1)
        state.reset()
        // The cache for the whole run at once: growing it mid-run would copy it, and a run
        // that cannot have it is refused before any work.
        try state.reserveCache(positions: min(model.contextLength, promptIDs.count + maxTokens))
        var sampler = Sampler(sampling)
        var decoder = StreamingDecoder()
        var filter = StopTextFilter(stops: stopStrings)
        var history = promptIDs
        var generated: [Int] = []
        var text = ""
        var stop = GenerationResult.StopReason.length

        let clock = Stopwatch()
        try model.forward(promptIDs, state: state)
        let promptSeconds = clock.seconds
        while generated.count < maxTokens {
            if interrupted() { stop = .interrupted; break }
            try model.checkFinite(decodableLogits, after: history)
            let next = sampler.sample(decodableLogits, history: history)
            if model.tokenizer.isSpecial(next) { stop = .endOfText; break }
            generated.append(next)
            history.append(next)
            let (piece, stopped) = filter.append(decoder.append(try model.tokenizer.bytes(of: next)))
            if !piece.isEmpty { text += piece; onText(piece) }
            if stopped { stop = .stopString; break }
            if generated.count == maxTokens { break }
            if state.position >= model.contextLength { stop = .contextFull; break }
            try model.forward([next], state: state)
        }
        let rest = stop == .stopString ? "" : filter.finish(adding: decoder.finish())
        if !rest.isEmpty { text += rest; onText(rest) }
        return GenerationResult(promptIDs: promptIDs, generatedIDs: generated, text: text, stopReason: stop,
                                promptSeconds: promptSeconds, generationSeconds: clock.seconds - promptSeconds)
    }

    /// A prompt file (`-`: standard input), refused once it passes what the model's context
    /// can hold, before the rest is read.
    public static func readPrompt(_ path: String, model: any LanguageModel) throws -> String {
        let bound = TextBound.bytes(contextLength: model.contextLength, tokenizer: model.tokenizer)
        do {
            return String(decoding: try readWholeFile(path, limit: bound, dashIsStandardInput: true), as: UTF8.self)
        } catch FileError.tooLarge(_, let limit) {
            throw GenerationError.promptTooLarge(source: path == "-" ? "standard input" : path, contextLength: model.contextLength, limit: limit)
        }
    }

    /// The prompt's token ids, refused before any work when empty or longer than the context.
    package func promptIDs(_ prompt: String) throws -> [Int] {
        let ids = model.tokenizer.encode(prompt)
        try check(ids)
        return ids
    }

    package func check(_ ids: [Int]) throws {
        guard !ids.isEmpty else { throw GenerationError.emptyPrompt }
        guard ids.count <= model.contextLength else { throw GenerationError.contextFull(contextLength: model.contextLength, needed: ids.count) }
    }

    /// The `top` most likely next tokens after the last forward pass, with their text.
    package func candidates(top: Int, temperature: Float) throws -> [TokenProbability] {
        try Sampler.distribution(decodableLogits, temperature: temperature).prefix(top).map { c in
            var c = c
            c.text = try model.tokenizer.piece(c.id)
            return c
        }
    }

    /// The last position's logits over the ids the tokenizer can decode: checkpoints often
    /// pad the vocabulary (50,304 rows for 50,257 tokens), and a padded row is never picked.
    package var decodableLogits: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: state.logits()[0..<min(model.tokenizer.vocabularySize, model.vocabularySize)])
    }

    /// Logits after `ids` (the last position), for tests and tools.
    public func lastLogits(_ ids: [Int]) throws -> [Float] {
        state.reset()
        try model.forward(ids, state: state)
        return Array(state.logits())
    }
}
