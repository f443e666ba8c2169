// `tensorledger chat`: a conversation with a model, interactive on a terminal, or one
// reply per `--message` or per line of standard input.

import ArgumentParser
import Synchronization
import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Set by Ctrl-C: the reply being written stops, the conversation goes on.
private let interruptRequested = Atomic<Bool>(false)

private func catchInterrupts() {
    signal(SIGINT) { _ in interruptRequested.store(true, ordering: .relaxed) }
    // A parent may have started us with SIGINT blocked (the mask is inherited): unblock it.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hold a conversation with a model: a system prompt and user turns, framed by its chat template.",
        discussion: """
            On a terminal: type a message after the prompt; Ctrl-C stops a reply, Ctrl-D or /exit ends. \
            \(ChatInput.help). With --message (repeatable), or with standard input not a terminal (one \
            message per line), each reply is printed and the command exits. Templates: auto (the model's \
            own, recognised by its markers; plain when it has none), \(ChatTemplate.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @Argument(help: "A .tlm file or a checkpoint directory (tokenizer_config.json beside it gives the template).")
    var model: String

    @Option(help: "The system prompt.")
    var system: String?

    @Option(help: "The chat template: auto or one of its names.")
    var template: String = "auto"

    @Option(name: .customLong("message"), help: "A user message (repeatable): reply to each, then exit.")
    var messages: [String] = []

    @Option(name: .short, help: "Most tokens in one reply.")
    var n: Int = 256

    @OptionGroup var sampling: SamplingArguments

    @Option(help: "Threads for the matrix products.")
    var threads: Int = 2

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard template == "auto" || ChatTemplate(rawValue: template) != nil else {
            throw ValidationError("--template must be auto or one of \(ChatTemplate.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        guard n > 0 else { throw ValidationError("-n must be positive.") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64.") }
    }

    func run() throws {
        try reportingErrors(json: output.json) {
            let m = try loadModel(model, threads: threads)
            let session = try ChatSession(model: m, config: try TokenizerConfig.load(forModel: model), template: ChatTemplate(rawValue: template),
                                          system: system, sampling: sampling.options, maxReplyTokens: n, source: model)
            catchInterrupts()
            if !messages.isEmpty {
                for message in messages { try reply(session, message, streaming: !output.json) }
            } else {
                let interactive = isatty(STDIN_FILENO) == 1
                if interactive { Console.writeErr("\(session.template.rawValue) template; \(ChatInput.help); Ctrl-C stops a reply, Ctrl-D ends\n") }
                while true {
                    if interactive { Console.writeOut("> ") }
                    guard let line = readLine() else { break }
                    if try !handle(ChatInput(line), session, interactive: interactive) { break }
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
            try session.save(to: path)
            catchInterrupts()  // writing a file installs the temporary-file cleanup on SIGINT
        case .stats: Console.writeErr(session.statsLine + "\n")
        case .unknownCommand(let c): printWarning("unknown command \(c); \(ChatInput.help)")
        case .message(let text):
            do {
                try reply(session, text, streaming: !output.json)
            } catch let error as ChatError where interactive {
                printError(error.description)
            }
        }
        return true
    }

    func reply(_ session: ChatSession, _ message: String, streaming: Bool) throws {
        interruptRequested.store(false, ordering: .relaxed)
        let turn = try session.respond(to: message, onText: { if streaming { Console.writeOut($0) } },
                                       interrupted: { interruptRequested.load(ordering: .relaxed) })
        if streaming { Console.writeOut("\n") }
        if turn.droppedTurns > 0 { printWarning("the context was full: dropped the oldest \(turn.droppedTurns) turns (the system prompt stays)") }
        if turn.stopReason == .interrupted { printWarning("reply stopped") }
    }
}
