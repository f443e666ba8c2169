// Inputs that used to hang or slow to a crawl (docs/ROBUSTNESS.md, round two): each is
// refused or handled, and never waits forever.

import Testing
@testable import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct HostileInputTests {
    /// A FIFO named as a model, config, tokenizer or text is refused at once: opening one
    /// for reading would wait for a writer that never comes. (`timeout` turns a hang into
    /// status 124, so this test cannot hang itself.)
    @Test func aFIFOIsRefusedNotWaitedOn() throws {
        let dir = TemporaryDirectory()
        let fifo = dir.file("model.safetensors")
        try #require(mkfifo(fifo, 0o600) == 0)
        let model = Fixtures.model("tiny-genesis")
        let commands = [["inspect", fifo], ["ledger", "--config", fifo], ["tokenize", fifo, "--text", "hi"], ["verify", fifo],
                        ["perplexity", model, "--text", fifo], ["run", model, "--prompt-file", fifo, "-n", "1"], ["convert", fifo, dir.file("o.tlm")]]
        for command in commands {
            let r = try #require(ChildProcess.run("/usr/bin/timeout", ["20", CLI.binary] + command))
            #expect(r.status == 1 || r.status == 3, "\(command): status \(r.status), \(r.stderr)")
            #expect(r.stderr.contains("not a regular file") || r.stderr.contains("not a safetensors file"), "\(command): \(r.stderr)")
        }
    }

    /// Added tokens are matched leftmost-longest, as `tokenizers` does, by one trie: the
    /// same segments as trying every token at every position.
    @Test func addedTokensMatchLeftmostLongest() throws {
        let base = try BPETokenizer.load(Fixtures.model("tiny-genesis") + "/tokenizer.json")
        let contents = ["<a>", "<a><b>", "<b>", "ab", "abc", "<|x|>", "é", "\n\n"]
        let added = contents.enumerated().map { AddedToken(id: 400 + $0.offset, content: $0.element, special: true) }
        let tokenizer = try BPETokenizer(tokens: base.tokens, merges: base.merges, addedTokens: added, pipeline: base.pipeline, source: "test")
        func naive(_ text: String) -> [Int] {
            let bytes = Array(text.utf8)
            var out: [Int] = [], i = 0
            while i < bytes.count {
                let hit = added.filter { bytes[i...].starts(with: Array($0.content.utf8)) }.max { $0.content.utf8.count < $1.content.utf8.count }
                if let hit { out.append(hit.id); i += hit.content.utf8.count } else { i += 1 }
            }
            return out
        }
        for text in ["<a><b>ab<b>abcd", "x<a>y<a><b>", "<|x|<|x|>é\n\n\nabc", "", "no added tokens here", "<a<a>><b"] {
            let found = tokenizer.splitOnAddedTokens(text).compactMap { if case .added(let id) = $0 { return id } else { return nil } }
            #expect(found == naive(text), "\(text.debugDescription)")
        }
        // Many added tokens and a long text: one pass, each position bounded by the longest token.
        let many = (0..<256).map { AddedToken(id: 100 + $0, content: "<tok\($0)>", special: true) }
        let big = try BPETokenizer(tokens: base.tokens, merges: base.merges, addedTokens: many, pipeline: base.pipeline, source: "test")
        let text = String(repeating: "<tok7> and <tok25", count: 2000)
        #expect(big.splitOnAddedTokens(text).count == 4000)
    }

    /// Text that parses into far more memory than it takes (millions of tiny numbers) is
    /// refused while parsing, before the values outgrow the limit.
    @Test func jsonThatWouldBlowUpInMemoryIsRefused() throws {
        var text = [UInt8]("[".utf8)
        text.reserveCapacity(24_000_002)
        for _ in 0..<12_000_000 { text += [UInt8(ascii: "1"), UInt8(ascii: ",")] }
        text[text.count - 1] = UInt8(ascii: "]")
        #expect { try JSON.parse(text) } throws: { error in
            guard let e = error as? JSONError, case .tooLarge(let limit) = e.problem else { return false }
            return limit == JSON.memoryLimit(forTextOf: text.count) && e.offset < text.count
        }
        // A real tokenizer, many times the size of its text in values, is well inside the limit.
        _ = try JSON.parse(try readWholeFile(Fixtures.model("tiny-qwen2") + "/tokenizer.json"))
    }

    /// A GGUF array whose items are each one byte in the file but a value in memory is
    /// refused from its count, before anything is allocated for it.
    @Test func ggufMetadataThatWouldBlowUpInMemoryIsRefused() throws {
        let dir = TemporaryDirectory()
        let count = 30_000_000
        var bytes = Array("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        u32(3); u64(0); u64(1)
        u64(11); bytes += Array("general.big".utf8)
        u32(9); u32(0); u64(UInt64(count))
        bytes += [UInt8](repeating: 1, count: count)
        writeFile(dir.file("big.gguf"), bytes)
        #expect { try GGUFFile.open(dir.file("big.gguf")) } throws: { error in
            "\(error)".contains("the metadata would take more than 512 MiB in memory")
        }
    }
}
