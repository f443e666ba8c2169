// Chat: templates against `transformers`' apply_chat_template (goldens recorded by
// fixtures/scripts/make_chat_fixtures.py), and the conversation loop on the fixture
// models (the plain frame on the GPT-2 and Llama fixtures, ChatML on the Qwen2 one).

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct ChatTemplateTests {
    static var goldens: JSONObject { get throws { try goldensStorage.get() } }
    private static let goldensStorage = Loaded { try Fixtures.json("expected/chat-templates.json")["families"]?.object ?? { throw FixtureError.notAnObject("expected/chat-templates.json families") }() }

    static func messages(_ v: JSONValue) -> (system: String?, turns: [ChatMessage]) {
        var system: String?
        var turns: [ChatMessage] = []
        for m in v.array! {
            let o = m.object!, content = o["content"]!.string!
            switch o["role"]!.string! {
            case "system": system = content
            case "user": turns.append(ChatMessage(.user, content))
            default: turns.append(ChatMessage(.assistant, content))
            }
        }
        return (system, turns)
    }

    @Test(arguments: ChatTemplate.allCases.filter { $0 != .plain })
    func rendersAsTransformersDoes(_ template: ChatTemplate) throws {
        let family = try #require(Self.goldens[template.rawValue]?.object, "no goldens for \(template)")
        let folder = Fixtures.path("chat/\(template.rawValue)")
        let tokenizer = try BPETokenizer.load(folder + "/tokenizer.json")
        let config = try TokenizerConfig(configJSON: try readWholeFile(folder + "/tokenizer_config.json"), templateFile: nil, source: folder)
        let jinja = try #require(config.chatTemplate)
        #expect(ChatTemplate.detect(jinja) == template)
        let cases = family["cases"]!.array!
        #expect(cases.count >= 2)
        for c in cases {
            let o = c.object!
            let (system, turns) = Self.messages(o["messages"]!)
            let text = template.render(system: system, turns: turns, bos: config.bosToken ?? "", eos: config.eosToken ?? "",
                                       defaultSystem: template == .chatml ? ChatTemplate.defaultSystem(inJinja: jinja) : nil)
            #expect(text == o["text"]!.string!, "\(template) \(turns.count) turns, system \(system != nil)")
            #expect(tokenizer.encode(text, addSpecialTokens: false) == o["ids"]!.array!.map { $0.int! }, "\(template) ids")
        }
    }

    @Test func unknownTemplatesAndMissingMarkersAreRefused() throws {
        #expect(ChatTemplate.detect("{{ messages[0]['content'] }}") == nil)
        let model = try ModelLoader.load(Fixtures.model("tiny-genesis"))
        #expect(throws: ChatError.unknownTemplate(source: "m")) {
            _ = try ChatSession(model: model, config: TokenizerConfig(chatTemplate: "{{ messages }}"), template: nil, system: nil,
                                sampling: SamplingOptions(), maxReplyTokens: 8, source: "m")
        }
        #expect(throws: ChatError.missingMarker(template: "chatml", marker: "<|im_start|>")) {
            _ = try ChatSession(model: model, config: TokenizerConfig(), template: .chatml, system: nil,
                                sampling: SamplingOptions(), maxReplyTokens: 8, source: "m")
        }
    }

    @Test func stopTextIsNeverShown() {
        var filter = StopTextFilter(stops: ["\nUser:"])
        var shown = ""
        var stopped = false
        for piece in ["Yes", ".", "\n", "Us", "ually", "\nU", "ser", ": next"] where !stopped {
            let (ready, s) = filter.append(piece)
            shown += ready
            stopped = s
        }
        #expect(stopped)
        #expect(shown == "Yes.\nUsually")
        var open = StopTextFilter(stops: ["\nUser:"])
        #expect(open.append("a\nUs").ready == "a")
        #expect(open.finish() == "\nUs")
        // Several stop strings: the earliest to appear wins, and a tail any of them begins with waits.
        var several = StopTextFilter(stops: ["END", "\n\n"])
        #expect(several.append("one\n").ready == "one")
        #expect(several.append("E").ready == "\n")
        let last = several.append("ND and\n\n")
        #expect(last.stopped && last.ready == "")
    }
}

@Suite(.serialized) struct ChatSessionTests {
    static func session(_ model: String, system: String? = nil, maxReply: Int = 16) throws -> ChatSession {
        var greedy = SamplingOptions()
        greedy.temperature = 0
        return try ChatSession(model: try ModelLoader.load(Fixtures.model(model)), config: try TokenizerConfig.load(forModel: Fixtures.model(model)),
                               template: nil, system: system, sampling: greedy, maxReplyTokens: maxReply, source: model)
    }

    @Test(arguments: ["tiny-genesis", "tiny-qwen2"])
    func laterTurnsRunOnlyTheirNewTokensAndAgreeWithTheWholeConversation(_ name: String) throws {
        let chat = try Self.session(name, system: "The Book of Genesis.")
        #expect(chat.template == (name == "tiny-qwen2" ? .chatml : .plain))
        let first = try chat.respond(to: "Who was the father of Isaac?")
        // Every reply token but one that completed a stop text went through the model after the prompt.
        let ran = first.contextTokens - first.processedTokens
        #expect(ran == first.replyIDs.count || (ran == first.replyIDs.count - 1 && first.stopReason == .endOfTurn))
        let second = try chat.respond(to: "And who was his son?")
        // The second turn reuses the cache: it runs its message and frame, not the whole conversation.
        #expect(second.processedTokens < second.contextTokens - second.replyIDs.count - 10, "processed \(second.processedTokens)")
        // Its cache holds what running the whole conversation at once would have made.
        let fresh = chat.model.makeState()
        try chat.model.forward(chat.cached, state: fresh)
        let diff = zip(chat.state.logits(), fresh.logits()).map { abs($0 - $1) }.max()!
        #expect(diff < 1e-4, "max |Δlogit| \(diff)")
        #expect(chat.turns.count == 4)
    }

    @Test func theChatMLFixtureStopsAtItsEndOfTurnToken() throws {
        let chat = try Self.session("tiny-qwen2")
        let imEnd = try #require(chat.model.tokenizer.id(ofToken: "<|im_end|>"))
        #expect(chat.stopIDs == [imEnd])
        #expect(chat.defaultSystem == "You are a helpful AI assistant.")
        _ = try chat.respond(to: "Hello")
        #expect(!chat.transcript[0].replyIDs.contains(imEnd))
    }

    @Test func theOldestTurnsMakeRoomAndTheSystemPromptStays() throws {
        let chat = try Self.session("tiny-genesis", system: "Genesis.", maxReply: 24)
        var dropped = 0
        for i in 0..<8 {
            let turn = try chat.respond(to: "Tell me about the generations of Noah, part \(i), and of his sons Shem, Ham and Japheth.")
            dropped += turn.droppedTurns
            #expect(turn.contextTokens <= chat.model.contextLength)
        }
        #expect(dropped > 0)
        let text = chat.template.render(system: chat.system, turns: chat.turns)
        #expect(text.hasPrefix("Genesis.\n\nUser: "))
    }

    @Test func badMessagesAndPromptsAreRefused() throws {
        let chat = try Self.session("tiny-genesis")
        #expect(throws: ChatError.emptyMessage) { try chat.respond(to: "  \n") }
        #expect(throws: ChatError.self) { try chat.setSystem(String(repeating: "And God said, let there be light. ", count: 40)) }
        #expect(throws: ChatError.self) { try chat.respond(to: String(repeating: "Abraham begat Isaac; ", count: 60)) }
        #expect(chat.turns.isEmpty)
    }

    @Test func inputLinesAreMessagesOrCommands() {
        #expect(ChatInput("hello /there") == .message("hello /there"))
        #expect(ChatInput("/system Be brief.") == .system("Be brief."))
        #expect(ChatInput("/system") == .system(""))
        #expect(ChatInput("/save /tmp/x.json") == .save("/tmp/x.json"))
        #expect(ChatInput("/save") == .unknownCommand("/save"))
        #expect(ChatInput("/exit") == .exit)
        #expect(ChatInput("/reset") == .reset)
        #expect(ChatInput("/stats") == .stats)
    }
}

@Suite struct ChatCLITests {
    @Test func eachLineOfStandardInputIsATurn() throws {
        let r = CLI.run(["chat", Fixtures.model("tiny-genesis"), "--system", "Genesis.", "--temperature", "0", "-n", "12", "--json"],
                        input: Array("And God said\n/stats\nLet there be light\n/reset\nIn the beginning\n".utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSON.parse(Array(r.stdout.utf8)).object)
        #expect(o["template"]?.string == "plain")
        #expect(o["system"]?.string == "Genesis.")
        let turns = try #require(o["turns"]?.array)
        #expect(turns.count == 3)
        #expect(turns.map { $0.object!["user"]!.string! } == ["And God said", "Let there be light", "In the beginning"])
        // /reset dropped the first two turns from the context: the third starts afresh.
        let processed = turns.map { $0.object!["processed_tokens"]!.int! }, context = turns.map { $0.object!["context_tokens"]!.int! }
        #expect(processed[1] < context[0], "the second turn reused the first's cache: \(processed) \(context)")
        #expect(r.stderr.contains("context: "), "/stats: \(r.stderr)")
    }

    @Test func messagesPrintTheirRepliesAndBadInputExitsCleanly() {
        let ok = CLI.run(["chat", Fixtures.model("tiny-qwen2"), "--message", "Hello", "--message", "Who begat Isaac?", "-n", "8", "--seed", "1"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.split(separator: "\n", omittingEmptySubsequences: false).count >= 3)
        let empty = CLI.run(["chat", Fixtures.model("tiny-qwen2"), "--message", " "])
        #expect(empty.status == 2 && empty.stderr == "error: the message is empty\n", "\(empty.stderr)")
        let unknown = CLI.run(["chat", Fixtures.model("tiny-qwen2"), "--template", "vicuna", "--message", "Hi"])
        #expect(unknown.status == 64, "\(unknown.stderr)")
        let missing = CLI.run(["chat", Fixtures.model("tiny-genesis"), "--template", "llama3", "--message", "Hi"])
        #expect(missing.status == 1 && missing.stderr.contains("<|start_header_id|>"), "\(missing.stderr)")
        let invalidUTF8 = CLI.run(["chat", Fixtures.model("tiny-genesis"), "-n", "4", "--json"], input: [0x63, 0x61, 0x66, 0xC3, 0x28, 0xFF, 0x0A])
        #expect(invalidUTF8.status == 0, "\(invalidUTF8.stderr)")
        #expect(invalidUTF8.stdout.contains("caf\u{FFFD}(\u{FFFD}"), "\(invalidUTF8.stdout)")
    }
}

#if os(Linux)
/// `chat` on a pseudo-terminal, as a person meets it: a prompt, a streamed reply that
/// Ctrl-C stops, and a session that goes on after it.
@Suite struct ChatTerminalTests {
    /// A new pseudo-terminal: the master's descriptor and the slave's path. (posix_openpt
    /// and its friends are not in Swift's Glibc module; these are the ioctls under them.)
    static func openPseudoTerminal() -> (master: Int32, slave: String)? {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        guard master >= 0 else { return nil }
        var unlock: Int32 = 0, number: UInt32 = 0
        let TIOCSPTLCK: UInt = 0x4004_5431, TIOCGPTN: UInt = 0x8004_5430
        guard ioctl(master, TIOCSPTLCK, &unlock) == 0, ioctl(master, TIOCGPTN, &number) == 0 else { close(master); return nil }
        return (master, "/dev/pts/\(number)")
    }

    /// Reads from the terminal until `marker` appears after `from` characters, or 20 s pass.
    static func readScreen(_ fd: Int32, into text: inout String, until marker: String, after from: String.Index? = nil) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let clock = Stopwatch()
        while clock.seconds < 20 {
            if text[(from ?? text.startIndex)...].contains(marker) { return true }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) >= 0 else { return false }
            if p.revents & Int16(POLLIN) != 0 {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { return text[(from ?? text.startIndex)...].contains(marker) }
                text += String(decoding: buffer[0..<n], as: UTF8.self)
            }
        }
        return false
    }

    @Test func ctrlCStopsAReplyAndTheSessionGoesOn() throws {
        let (master, slave) = try #require(Self.openPseudoTerminal())
        defer { close(master) }
        // A new session whose controlling terminal is the pseudo-terminal: ^C there is SIGINT.
        let pid = try #require(ChildProcess.start(CLI.binary, ["chat", Fixtures.model("tiny-genesis"), "--temperature", "0", "-n", "200", "--threads", "1"],
                                                            terminal: slave))
        func send(_ s: String) { _ = Array(s.utf8).withUnsafeBytes { write(master, $0.baseAddress, $0.count) } }

        var screen = ""
        #expect(Self.readScreen(master, into: &screen, until: "> "), "no prompt: \(screen)")
        // Type as a person does, after the prompt is ready: libedit prints "> " before it puts
        // the terminal in its own mode, and what is typed in between may not reach it.
        usleep(500_000)
        // A long reply (the model continues Genesis until its context is full): stop it
        // as soon as it starts.
        send("And God said\n")
        let echoed = screen.endIndex
        #expect(Self.readScreen(master, into: &screen, until: "And God said\r\n", after: echoed))
        let replyStart = screen.endIndex
        #expect(Self.readScreen(master, into: &screen, until: " ", after: replyStart), "no reply: \(screen)")
        send("\u{03}")
        #expect(Self.readScreen(master, into: &screen, until: "reply stopped", after: replyStart), "not stopped: \(screen)")
        #expect(Self.readScreen(master, into: &screen, until: "> ", after: replyStart), "no prompt after ^C: \(screen)")
        // The session goes on: another turn, then /exit.
        let before = screen.endIndex
        send("/stats\n")
        #expect(Self.readScreen(master, into: &screen, until: "context: ", after: before), "\(screen)")
        send("/exit\n")
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect(status == 0, "exit status \(status): \(screen)")
    }
}
#endif
