// `tensorledger chat`: a conversation with a model, interactive on a terminal, or one
// reply per `--message` or per line of standard input.

import ArgumentParser
import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hold a conversation with a model: a system prompt and user turns, framed by its chat template.",
        discussion: """
            On a terminal: type a message after the prompt; Ctrl-C stops a reply, Ctrl-D or /exit ends. \
            \(ChatInput.help). With --message (repeatable), or with standard input not a terminal (one \
            message per line), each reply is printed and the command exits. Templates: auto (the model's \
            own, recognised by its markers; plain when it has none), \(ChatTemplate.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @OptionGroup var model: ModelArguments

    @Option(help: "The system prompt.")
    var system: String?

    @Option(help: "The chat template: auto or one of its names.")
    var template: String = "auto"

    @Option(name: .customLong("message"), help: "A user message (repeatable): reply to each, then exit.")
    var messages: [String] = []

    @Option(name: .short, parsing: .unconditional, help: "Most tokens in one reply.")
    var n: Int = 256

    @OptionGroup var sampling: SamplingArguments

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard template == "auto" || ChatTemplate(rawValue: template) != nil else {
            throw ValidationError("--template must be auto or one of \(ChatTemplate.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        guard n > 0 else { throw ValidationError("-n must be positive.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let m = try model.load()
            let session = try ChatSession(model: m, config: try TokenizerConfig.load(forModel: model.model), template: ChatTemplate(rawValue: template),
                                          system: system, sampling: sampling.options(for: m), maxReplyTokens: n, source: model.model)
            Interrupts.stopGracefully()  // Ctrl-C stops a reply; the conversation goes on
            if !messages.isEmpty {
                for message in messages { try reply(session, message, streaming: !output.json) }
            } else {
                let interactive = isatty(STDIN_FILENO) == 1
                if interactive { Console.writeErr("\(session.template.rawValue) template; \(ChatInput.help); Ctrl-C stops a reply, Ctrl-D ends\n") }
                // A line is read no further than the context can hold.
                let lines = BoundedLineReader(limit: TextBound.bytes(contextLength: m.contextLength, tokenizer: m.tokenizer))
                while true {
                    if interactive { Console.writeOut("> ") }
                    guard let line = try lines.next() else { break }
                    guard case .text(let text) = line else {
                        let error = GenerationError.promptTooLarge(source: "standard input", contextLength: m.contextLength, limit: lines.limit)
                        if interactive { printError(error.description); continue }
                        throw error
                    }
                    if try !handle(ChatInput(text), session, interactive: interactive) { break }
                }
            }
            if output.json { print(session.json.serialized()) }
        }
    }

    /// Carries out one line; false ends the conversation. A bad message ends only itself
    /// when a person is typing.
    func handle(_ input: ChatInput, _ session: ChatSession, interactive: Bool) throws -> Bool {
        switch input {
        case .exit: return false
        case .reset: session.reset()
        case .system(let text): try session.setSystem(text)
        case .save(let path):
            do {
                try session.save(to: path)
                Console.writeErr("saved the conversation to \(path)\n")
            } catch let error as any TensorLedgerError where interactive {
                printError(commandLineWording(error))
            }
        case .stats: Console.writeErr(session.statsLine + "\n")
        case .unknownCommand(let c): printWarning("unknown command \(c); \(ChatInput.help)")
        case .message(let text):
            do {
                try reply(session, text, streaming: !output.json)
            } catch let error as ChatError where interactive {
                printError(commandLineWording(error))
            }
        }
        return true
    }

    func reply(_ session: ChatSession, _ message: String, streaming: Bool) throws {
        Interrupts.clear()
        let turn = try session.respond(to: message, onText: { if streaming { writeText($0) } },
                                       interrupted: { Interrupts.isRequested })
        if streaming { Console.writeOut("\n") }
        if turn.droppedTurns > 0 { printWarning("the context was full: dropped the oldest \(turn.droppedTurns) turns (the system prompt stays)") }
        if turn.stopReason == .interrupted { printWarning("reply stopped") }
    }
}
