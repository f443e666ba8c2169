// A conversation with a model: the template frames the system prompt and the turns, and
// the KV cache carries the conversation from turn to turn. Each turn renders the whole
// conversation, keeps the part of the cache that still agrees with it (everything up to
// the new message, unless an earlier reply re-tokenizes differently), and runs only the
// rest. When the context fills, the oldest turns are dropped (the system prompt stays)
// and the cache is rebuilt from where the text first differs.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

public struct ChatTurn: Sendable {
    public enum StopReason: String, Sendable {
        case endOfTurn = "end-of-turn"
        case endOfText = "end-of-text"
        case length = "length"
        case contextFull = "context-full"
        case interrupted = "interrupted"
    }

    public var user: String
    public var reply: String
    public var replyIDs: [Int]
    /// Tokens in the context once the reply is written.
    public var contextTokens: Int
    /// Tokens this turn ran through the model before replying (the rest came from the cache).
    public var processedTokens: Int
    public var promptSeconds: Double
    public var generationSeconds: Double
    public var stopReason: StopReason
    /// Turns dropped from the start of the conversation to make room (0 if none).
    public var droppedTurns: Int

    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(max(replyIDs.count - 1, 0)) / generationSeconds : 0
    }

    public var json: JSONValue {
        .object(JSONObject([
            "user": .string(user), "reply": .string(reply), "reply_ids": .array(replyIDs.map { .int($0) }),
            "context_tokens": .int(contextTokens), "processed_tokens": .int(processedTokens),
            "prompt_seconds": .double(promptSeconds), "generation_seconds": .double(generationSeconds),
            "generation_tokens_per_second": .double(generationTokensPerSecond),
            "stop_reason": .string(stopReason.rawValue), "dropped_turns": .int(droppedTurns),
        ]))
    }
}

public final class ChatSession {
    public static let jsonSchema = "tensorledger.chat/1"
    public let model: any LanguageModel
    public let template: ChatTemplate
    public var system: String?
    public var sampling: SamplingOptions
    /// Most tokens one reply may take.
    public var maxReplyTokens: Int
    /// Texts that end a reply where they appear (not shown), beside the template's own end.
    public var stops: [String] = []
    /// The conversation the model sees (after /reset or dropped turns, less than was said).
    public private(set) var turns: [ChatMessage] = []
    /// Every turn of the session.
    public private(set) var transcript: [ChatTurn] = []
    package let bos: String, eos: String, defaultSystem: String?
    package let stopIDs: Set<Int>
    package let stopText: String?
    package let state: InferenceState
    /// The ids whose keys and values the cache holds, in order.
    package var cached: [Int] = []

    /// `config` (the model's own unless given) gives the template (for .auto), the BOS and
    /// EOS names and any default system prompt; `template` nil means auto: the model's own,
    /// or `plain` when it has none.
    public init(model: any LanguageModel, config given: TokenizerConfig? = nil, template requested: ChatTemplate?, system: String?,
                sampling: SamplingOptions, maxReplyTokens: Int, source: String) throws {
        let config = given ?? model.chat
        let template: ChatTemplate
        if let requested {
            template = requested
        } else if let jinja = config.chatTemplate {
            guard let t = ChatTemplate.detect(jinja) else { throw ChatError.unknownTemplate(source: source) }
            template = t
        } else {
            template = .plain
        }
        try sampling.validate()
        self.model = model
        self.template = template
        self.sampling = sampling
        self.maxReplyTokens = max(1, maxReplyTokens)
        let tok = model.tokenizer
        bos = config.bosToken ?? ""
        eos = config.eosToken ?? ""
        defaultSystem = template == .chatml ? config.chatTemplate.flatMap(ChatTemplate.defaultSystem(inJinja:)) : nil
        for marker in template.markers(bos: bos, eos: eos) {
            guard !marker.isEmpty, tok.id(ofToken: marker) != nil else {
                throw ChatError.missingMarker(template: template.rawValue, marker: marker.isEmpty ? "(its BOS or EOS token)" : marker)
            }
        }
        let end = template.endOfTurn(eos: eos)
        stopIDs = Set(end.tokens.compactMap { tok.id(ofToken: $0) })
        stopText = end.text
        state = model.makeState()
        try setSystem(system)
    }

    /// Changes the system prompt (the turns stay; the cache is rebuilt on the next turn).
    public func setSystem(_ text: String?) throws {
        let s = text.flatMap { $0.isEmpty ? nil : $0 }
        if let s {
            let framed = encode(template.render(system: s, turns: [], bos: bos, eos: eos))
            guard framed.count < model.contextLength else { throw ChatError.systemTooLong(tokens: framed.count, contextLength: model.contextLength) }
        }
        system = s
    }

    /// Drops the turns from the conversation; the system prompt stays, and the transcript
    /// (what `--json` and `/save` write) keeps everything said.
    public func reset() {
        turns.removeAll()
        // The cache held the dropped turns: the next turn starts from the system prompt.
        cached.removeAll()
        state.position = 0
    }

    /// Tokens of the conversation in the cache.
    public var contextTokens: Int { cached.count }

    package func encode(_ text: String) -> [Int] { model.tokenizer.encode(text, addSpecialTokens: false) }

    /// Answers `message`: streams the reply's text to `onText` as it forms, and stops at the
    /// end of the assistant's turn, at `maxReplyTokens`, or when `interrupted()` says so.
    public func respond(to message: String, onText: (String) -> Void = { _ in },
                        interrupted: () -> Bool = { false }) throws -> ChatTurn {
        guard !message.allSatisfy({ $0.isWhitespace }) else { throw ChatError.emptyMessage }
        let context = model.contextLength
        var conversation = turns + [ChatMessage(.user, message)]
        var ids = encode(template.render(system: system, turns: conversation, bos: bos, eos: eos, defaultSystem: defaultSystem))
        // Room for a reply: drop the oldest exchange while the conversation leaves less than
        // a reply's worth (or half the context) free.
        let room = min(maxReplyTokens, context / 2)
        var dropped = 0
        while ids.count + room > context && conversation.count > 1 {
            conversation.removeFirst(min(2, conversation.count - 1))
            dropped += 2
            ids = encode(template.render(system: system, turns: conversation, bos: bos, eos: eos, defaultSystem: defaultSystem))
        }
        guard ids.count < context else { throw ChatError.messageTooLong(tokens: ids.count, contextLength: context) }

        // Keep the cache up to where it first differs from the new text (at least one new
        // token must run, for its logits).
        var keep = 0
        while keep < min(cached.count, ids.count - 1) && cached[keep] == ids[keep] { keep += 1 }
        state.position = keep
        cached.removeSubrange(keep...)
        // The cache for the turn and its reply at once, so the reply never waits on a copy.
        try state.reserveCache(positions: min(context, ids.count + maxReplyTokens))
        let clock = Stopwatch()
        try model.forward(Array(ids[keep...]), state: state)
        cached += ids[keep...]
        let promptSeconds = clock.seconds

        var sampler = Sampler(sampling)
        var decoder = StreamingDecoder()
        var filter = StopTextFilter(stops: (stopText.map { [$0] } ?? []) + stops)
        var history = ids
        var replyIDs: [Int] = []
        var text = ""
        var stop = ChatTurn.StopReason.length
        var stoppedByText = false
        let usable = min(model.tokenizer.vocabularySize, model.vocabularySize)
        while replyIDs.count < maxReplyTokens {
            if interrupted() { stop = .interrupted; break }
            try model.checkFinite(UnsafeBufferPointer(rebasing: state.logits()[0..<usable]), after: history)
            let next = sampler.sample(UnsafeBufferPointer(rebasing: state.logits()[0..<usable]), history: history)
            if stopIDs.contains(next) { stop = .endOfTurn; break }
            if model.tokenizer.isSpecial(next) { stop = .endOfText; break }
            replyIDs.append(next)
            history.append(next)
            let (ready, stopped) = filter.append(decoder.append(try model.tokenizer.bytes(of: next)))
            if !ready.isEmpty { text += ready; onText(ready) }
            if stopped { stop = .endOfTurn; stoppedByText = true; break }
            guard state.position < context else { stop = .contextFull; break }
            try model.forward([next], state: state)
            cached.append(next)
        }
        let rest = filter.finish(adding: stoppedByText ? "" : decoder.finish())
        if !rest.isEmpty { text += rest; onText(rest) }

        turns = conversation + [ChatMessage(.assistant, template == .plain ? trimLeadingSpace(text) : text)]
        let turn = ChatTurn(user: message, reply: text, replyIDs: replyIDs, contextTokens: cached.count, processedTokens: ids.count - keep,
                            promptSeconds: promptSeconds, generationSeconds: clock.seconds - promptSeconds, stopReason: stop, droppedTurns: dropped)
        transcript.append(turn)
        return turn
    }

    /// The plain frame writes "Assistant: reply": the model's leading space belongs to the frame.
    private func trimLeadingSpace(_ s: String) -> String { s.hasPrefix(" ") ? String(s.dropFirst()) : s }

    /// The conversation as JSON: template, system prompt and every turn with ids and timings.
    public var json: JSONValue {
        JSONObject([
            "template": .string(template.rawValue),
            "system": system.map { .string($0) } ?? .null,
            "turns": .array(transcript.map(\.json)),
        ]).report(schema: Self.jsonSchema)
    }
}

extension BPETokenizer {
    /// The id of a token given as its text (an added token, or a vocabulary entry).
    public func id(ofToken text: String) -> Int? {
        if let a = addedToken(content: text) { return a.id }
        return idOf[ByteString(pipeline.isByteLevel ? ByteLevel.encode(text) : text)]
    }
}

extension ChatSession {
    /// What `/stats` prints: the context and the last turn's work.
    public var statsLine: String {
        var line = "context: \(formatCount(contextTokens)) of \(formatCount(model.contextLength)) tokens"
        if let last = transcript.last {
            line += "; last turn: processed \(formatCount(last.processedTokens)) tokens in \(formatFixed(last.promptSeconds * 1000, 1)) ms, "
                + "replied \(formatCount(last.replyIDs.count)) tokens at \(formatFixed(last.generationTokensPerSecond, 1)) tokens/s (\(last.stopReason.rawValue))"
        }
        return line
    }

    /// Writes the transcript as JSON to `path` (replacing it).
    /// The files the model came from.
    private var modelFiles: [String] {
        let source = model.source
        guard pathKind(source) == .directory else { return [source] }
        return [source] + ((try? directoryEntries(source)) ?? []).map { joinPath(source, $0) }
    }

    /// Writes the transcript to a new file: an existing one, the model's files among them,
    /// is never replaced (a line piped into chat can name any path).
    public func save(to path: String) throws {
        let out: AtomicFileWriter
        do {
            out = try AtomicFileWriter(path: path, overwrite: false, protecting: modelFiles)
        } catch .outputExists {
            throw ChatError.saveWouldReplace(path: path)
        }
        try out.write(Array((json.serialized() + "\n").utf8))
        try out.commit()
    }
}

/// A line typed into `chat`: a message, or one of its commands.
public enum ChatInput: Equatable, Sendable {
    case message(String)
    case exit
    case reset
    case system(String)
    case save(String)
    case stats
    case help
    case unknownCommand(String)

    public static let commands = "commands: /reset (drop the turns), /system TEXT (none: remove it), /save FILE, /stats, /help, /exit; end a line with \\ to go on on the next"

    public init(_ line: String) {
        guard line.hasPrefix("/") else { self = .message(line); return }
        let parts = line.dropFirst().split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        let argument = parts.count > 1 ? String(parts[1]) : ""
        switch parts.first.map(String.init) ?? "" {
        case "exit", "quit": self = .exit
        case "reset": self = .reset
        case "system": self = .system(argument)
        case "save" where !argument.isEmpty: self = .save(argument)
        case "stats": self = .stats
        case "help", "?": self = .help
        default: self = .unknownCommand(line)
        }
    }
}
