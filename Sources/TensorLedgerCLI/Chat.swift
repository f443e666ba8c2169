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
            \(ChatInput.commands). With --message (repeatable), or with standard input not a terminal (one \
            message per line), each reply is printed and the command exits. Templates: auto (the model's \
            own, recognised by its markers; plain when it has none), \(ChatTemplate.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @OptionGroup var model: ModelArguments

    @Option(help: "The system prompt.")
    var system: String?

    @Option(name: [.customShort("f"), .long], help: "Read the system prompt from a file ('-': standard input).", completion: .file())
    var promptFile: String?

    @Option(help: "End a reply where this text appears (not shown); repeat for several.")
    var stop: [String] = []

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
        guard system == nil || promptFile == nil else { throw ValidationError("Give one of --system and --prompt-file, not both.") }
        guard !stop.contains("") else { throw ValidationError("--stop must not be empty.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let m = try model.load()
            let systemText = try promptFile.map { try Generator.readPrompt($0, model: m) } ?? system
            let session = try ChatSession(model: m, template: ChatTemplate(rawValue: template),
                                          system: systemText, sampling: sampling.options(for: m), maxReplyTokens: n, source: model.model)
            session.stops = stop
            Interrupts.stopGracefully()  // Ctrl-C stops a reply; the conversation goes on
            if !messages.isEmpty {
                for message in messages { try reply(session, message, streaming: !output.json) }
            } else {
                let interactive = isatty(STDIN_FILENO) == 1
                if interactive { Console.writeErr("\(session.template.rawValue) template; \(ChatInput.commands); Ctrl-C stops a reply, Ctrl-D ends\n") }
                // A person types with libedit's editing and history where it is there; a pipe's
                // line is read no further than the context can hold.
                let editor = interactive ? LineEditor() : nil
                if interactive { Interrupts.interruptReads() }
                let lines = BoundedLineReader(limit: TextBound.bytes(contextLength: m.contextLength, tokenizer: m.tokenizer))
                var pending = ""
                while true {
                    let prompt = pending.isEmpty ? "> " : ". "
                    let next: BoundedLineReader.Line? = try Interrupts.whileWaitingForInput {
                        if let editor { return editor.readLine(prompt: prompt).map { .text($0) } }
                        if interactive { Console.writeOut(prompt) }
                        return try lines.next()
                    }
                    if next == nil && Interrupts.isRequested {
                        // Ctrl-C at the prompt: nothing to stop; say how to end instead.
                        Interrupts.clear()
                        pending = ""
                        Console.writeErr("\n(Ctrl-D or /exit ends the chat)\n")
                        continue
                    }
                    guard let line = next else {
                        if interactive { Console.writeOut("\n") }  // Ctrl-D leaves the shell's prompt on a line of its own
                        break
                    }
                    guard case .text(let text) = line else {
                        let error = GenerationError.promptTooLarge(source: "standard input", contextLength: m.contextLength, limit: lines.limit)
                        pending = ""
                        if interactive { printError(error.description); continue }
                        throw error
                    }
                    // A line ending in a backslash goes on on the next: one message of several lines.
                    if text.hasSuffix("\\") {
                        pending += text.dropLast() + "\n"
                        continue
                    }
                    let message = pending + text
                    pending = ""
                    if try !handle(ChatInput(message), session, interactive: interactive) { break }
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
        case .reset:
            session.reset()
            Console.writeErr("the conversation is cleared; the system prompt stays\n")
        case .system(let text):
            try session.setSystem(text)
            Console.writeErr(session.system == nil ? "the system prompt is removed\n" : "the system prompt is set\n")
        case .help: Console.writeErr(ChatInput.commands + "\n")
        case .save(let path):
            do {
                try session.save(to: path)
                Console.writeErr("saved the conversation to \(path)\n")
            } catch let error as any TensorLedgerError where interactive {
                printError(commandLineWording(error))
            }
        case .stats: Console.writeErr(session.statsLine + "\n")
        case .unknownCommand(let c): printWarning("unknown command \(c); \(ChatInput.commands)")
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
        if turn.stopReason == .length { printWarning("the reply was cut off at -n \(n) tokens") }
    }
}
