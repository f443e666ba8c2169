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
        return try ChatSession(model: try ModelLoader.load(Fixtures.model(model), cache: .f32), config: try TokenizerConfig.load(forModel: Fixtures.model(model)),
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
    @Test func ctrlCStopsAReplyAndTheSessionGoesOn() throws {
        let chat = try #require(PseudoTerminal(CLI.binary, ["chat", Fixtures.model("tiny-genesis"), "--temperature", "0", "-n", "200", "--threads", "1"]))
        #expect(chat.waitFor("> ") && chat.waitForLineInput(), "no prompt: \(chat.screen)")
        // A long reply (the model continues Genesis until its context is full): stop it
        // as soon as it starts.
        chat.type("And God said\n")
        #expect(chat.waitFor("And God said\r\n"))
        #expect(chat.waitFor(" "), "no reply: \(chat.screen)")
        chat.type("\u{03}")
        #expect(chat.waitFor("reply stopped"), "not stopped: \(chat.screen)")
        #expect(chat.waitFor("> ") && chat.waitForLineInput(), "no prompt after ^C: \(chat.screen)")
        // The session goes on: another turn, then /exit.
        chat.type("/stats\n")
        #expect(chat.waitFor("context: "), "\(chat.screen)")
        #expect(chat.waitFor("> ") && chat.waitForLineInput())
        chat.type("/exit\n")
        #expect(chat.exitStatus() == 0, "\(chat.screen)")
    }

    /// The up arrow brings back the last message (libedit's history), and Ctrl-C at the
    /// prompt says how to end instead of nothing.
    @Test func chatAtATerminalHasHistoryAndExplainsCtrlC() throws {
        guard LineEditor() != nil else { return }
        let chat = try #require(PseudoTerminal(CLI.binary, ["chat", Fixtures.model("tiny-genesis"), "-n", "3", "--temperature", "0", "--threads", "1"]))
        #expect(chat.waitFor("> ") && chat.waitForLineInput(), "no prompt: \(chat.screen)")
        chat.type("And God\r")
        #expect(chat.waitFor("And God"), "no echo: \(chat.screen)")
        #expect(chat.waitFor("> ") && chat.waitForLineInput(), "no prompt after the reply: \(chat.screen)")
        chat.type("\u{1B}[A\r")
        #expect(chat.waitFor("And God"), "the recalled line: \(chat.screen)")
        // The key goes as soon as the prompt shows, before the line editor may be reading:
        // one that lands between its raw mode and its read(2) must still be answered
        // (Interrupts.whileWaitingForInput; under load, 13 of 30 such keys were lost before).
        #expect(chat.waitFor("> "), "no prompt after the recalled turn: \(chat.screen)")
        chat.type("\u{03}")
        #expect(chat.waitFor("(Ctrl-D or /exit ends the chat)"), "\(chat.screen)")
        #expect(chat.waitForLineInput())
        chat.type("/exit\r")
        #expect(chat.exitStatus() == 0, "\(chat.screen)")
    }

    /// A Ctrl-C that lands after the prompt shows but before the line editor reads, in a
    /// process then held up for three seconds (a loaded machine), is answered once the read
    /// begins. The hold-up is a preloaded tcsetattr that sleeps before turning the terminal
    /// raw, which libedit does between showing the prompt and reading; the key goes while
    /// it sleeps. The chat inherits this test's signal mask, which blocks SIGALRM.
    @Test func aCtrlCBeforeAHeldUpReadIsAnswered() throws {
        guard LineEditor() != nil else { return }
        let dir = TemporaryDirectory()
        writeFile(dir.file("stall.c"), Array(Self.stallBeforeRawMode.utf8))
        let compiler = try #require(onPath("clang", "cc"), "no C compiler on PATH")
        let built = try #require(ChildProcess.run(compiler, ["-shared", "-fPIC", "-o", dir.file("stall.so"), dir.file("stall.c"), "-ldl"]))
        try #require(built.status == 0, "\(built.stderr)")
        let chat = try #require(PseudoTerminal("/usr/bin/env", ["LD_PRELOAD=\(dir.file("stall.so"))", CLI.binary,
                                                                 "chat", Fixtures.model("tiny-genesis"), "-n", "3", "--threads", "1"]))
        #expect(chat.waitFor("> "), "no prompt: \(chat.screen)")
        chat.type("\u{03}")
        #expect(chat.waitFor("^C"), "the key did not land before raw mode: \(chat.screen)")
        #expect(chat.waitFor("(Ctrl-D or /exit ends the chat)"), "\(chat.screen)")
        #expect(chat.waitForLineInput())
        chat.type("/exit\r")
        #expect(chat.exitStatus() == 0, "\(chat.screen)")
    }

    /// SIGTERM and SIGHUP end a chat waiting at its prompt at once, with a shell's status,
    /// though it was started with them blocked (this test's threads block them, and the
    /// mask is inherited).
    @Test(arguments: [SIGTERM, SIGHUP])
    func terminationSignalsEndAWaitingChat(_ signal: Int32) throws {
        let chat = try #require(PseudoTerminal(CLI.binary, ["chat", Fixtures.model("tiny-genesis"), "-n", "3"]))
        #expect(chat.waitFor("> ") && chat.waitForLineInput(), "no prompt: \(chat.screen)")
        kill(chat.pid, signal)
        let status = chat.exitStatus(within: 10)
        #expect(status == 128 + signal, "signal \(signal): \(status.map { "status \($0)" } ?? "still running after 10 s")")
    }

    private static let stallBeforeRawMode = """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <errno.h>
        #include <termios.h>
        #include <time.h>
        int tcsetattr(int fd, int when, const struct termios *t) {
            int (*real)(int, int, const struct termios *) = (int (*)(int, int, const struct termios *))dlsym(RTLD_NEXT, "tcsetattr");
            if (!(t->c_lflag & ICANON)) {
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += 3;
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, 0) == EINTR) {}
            }
            return real(fd, when, t);
        }
        """
}
#endif
