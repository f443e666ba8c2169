// Small inputs that used to take minutes or gigabytes (docs/ROBUSTNESS.md, round three):
// each runs under a memory ceiling (`ulimit -v`) and a time-out far above what it needs,
// so a regression fails instead of hanging the suite.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct BoundedInputTests {
    /// Runs the CLI under `ulimit -v` (KiB) and `timeout`; stdin from `input` when given.
    static func bounded(_ args: [String], memoryKiB: Int = 400_000, seconds: Int = 60, input: String? = nil) -> CLIResult {
        let quoted = args.map { "'" + $0.replacing("'", with: "'\\''") + "'" }.joined(separator: " ")
        let stdin = input.map { " < '\($0)'" } ?? ""
        let r = ChildProcess.run("/bin/bash", ["-c", "ulimit -v \(memoryKiB); exec /usr/bin/timeout \(seconds) '\(CLI.binary)' \(quoted)\(stdin)"])
        return r.map { CLIResult(status: $0.status, stdout: $0.stdout, stderr: $0.stderr) } ?? CLIResult(status: -1, stdout: "", stderr: "")
    }

    /// A SentencePiece vocabulary (merges rebuilt from scores) with one 40,000-character
    /// token and the tokens x, xx, xxx, … up to 600 characters (after the byte tokens):
    /// each token's splits are found in one pass, not by trying every cut.
    @Test func longTokensInAGGUFVocabulary() throws {
        let dir = TemporaryDirectory()
        var gguf = try GGUFEdit(Fixtures.path("gguf/tiny-llama-f32.gguf"))
        guard case .array(_, var tokens)? = gguf["tokenizer.ggml.tokens"] else { Issue.record("no tokens"); return }
        tokens[289] = .string(String(repeating: "y", count: 40_000))
        for k in 1...600 { tokens[289 + k] = .string(String(repeating: "x", count: k)) }
        gguf["tokenizer.ggml.tokens"] = .array(.string, tokens)
        gguf.write(to: dir.file("m.gguf"))
        let r = Self.bounded(["tokenize", dir.file("m.gguf"), "--text", String(repeating: "x", count: 1500), "--json"])
        #expect(r.status == 0, "\(r.status) \(r.stderr)")
        // The merges built runs of x (512, 512, 476): BOS, "▁" as three bytes, three runs.
        let ids = try JSON.parse(Array(r.stdout.utf8)).object?["ids"]?.array?.compactMap(\.int)
        #expect(ids == [1, 229, 153, 132, 289 + 512, 289 + 512, 289 + 476], "\(ids ?? [])")
    }

    /// 150,000 added tokens: matching and decoding look each one up in constant time.
    @Test func manyAddedTokens() throws {
        let base = try BPETokenizer.load(Fixtures.model("tiny-genesis") + "/tokenizer.json")
        let added = (0..<150_000).map { AddedToken(id: $0 % base.vocabularySize, content: "<t\($0)>", special: $0 % 2 == 0) }
        let tokenizer = try BPETokenizer(tokens: base.tokens, merges: base.merges, addedTokens: added, pipeline: base.pipeline, source: "test")
        let text = (0..<2000).map { "<t\($0 * 73)> word" }.joined()
        let ids = tokenizer.encode(text)
        #expect(ids.count >= 4000)
        #expect(try tokenizer.decode(ids, skipSpecialTokens: false).count > 0)
        #expect(tokenizer.addedToken(content: "<t149999>")?.id == 149_999 % base.vocabularySize)
    }

    /// One added token of 12 MB in tokenizer.json: memory is a small multiple of the file.
    @Test func aHugeAddedToken() throws {
        let dir = TemporaryDirectory()
        let huge = String(repeating: "z", count: 12 << 20)
        let json = try editedText(Fixtures.model("tiny-genesis") + "/tokenizer.json", [("\"added_tokens\": [", "\"added_tokens\": [{\"id\":511,\"content\":\"\(huge)\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},")])
        let model = try editedModel("tiny-genesis", in: dir, files: ["tokenizer.json": json])
        let r = Self.bounded(["tokenize", model, "--text", "And God zzzz"], memoryKiB: 400_000)
        #expect(r.status == 0, "\(r.status) \(r.stderr.prefix(300))")
    }

    /// A prompt file or a chat line far longer than the context can hold is refused from
    /// its first bytes past the bound, without reading it all into memory.
    @Test func textLongerThanTheContextIsRefusedUnread() throws {
        let dir = TemporaryDirectory()
        let line = [UInt8](repeating: UInt8(ascii: "a"), count: 64 << 20)
        writeFile(dir.file("long.txt"), line + [0x0A] + Array("And God\n".utf8))
        let model = Fixtures.model("tiny-genesis")
        let run = Self.bounded(["run", model, "-f", dir.file("long.txt"), "-n", "1"], memoryKiB: 300_000)
        #expect(run.isOneErrorLine(containing: "more than the model's context of 128 tokens can hold", status: 2), "\(run.status) \(run.stderr)")
        // Piped into chat: the long line is refused and ends the conversation (nothing typed it).
        let chat = Self.bounded(["chat", model, "-n", "2", "--temperature", "0"], memoryKiB: 300_000, input: dir.file("long.txt"))
        #expect(chat.isOneErrorLine(containing: "standard input: more than", status: 2), "\(chat.status) \(chat.stderr)")
    }

    /// Lines as chat reads them: CR LF, a last line without a newline, a line past the limit.
    @Test func boundedLinesSplitAsReadLineDoes() throws {
        let dir = TemporaryDirectory()
        writeFile(dir.file("in.txt"), Array("one\r\ntwo\n\n".utf8) + [UInt8](repeating: 98, count: 300_000) + Array("\nlast".utf8))
        let fd = open(dir.file("in.txt"), O_RDONLY)
        defer { close(fd) }
        let reader = BoundedLineReader(fd: fd, limit: 100_000)
        var lines: [BoundedLineReader.Line] = []
        while let l = try reader.next() { lines.append(l) }
        #expect(lines == [.text("one"), .text("two"), .text(""), .tooLong(bytes: 300_000), .text("last")])
    }
}
