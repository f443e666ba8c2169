// What a file says is shown, never obeyed: escape sequences, C1 controls, bidirectional
// overrides and newlines from names, metadata and tokens come out escaped in every text
// output and error line (docs/ROBUSTNESS.md, round three).

import Testing
@testable import TensorLedger

@Suite struct TerminalEscapeTests {
    static let hostile = "a\u{1b}[2J\u{9b}31m\u{202e}b\nerror: forged line\r"

    /// No character that a terminal obeys, and no line that the file wrote.
    static func isInert(_ text: String) -> Bool {
        !text.unicodeScalars.contains { $0 != "\n" && $0 != "\t" && isTerminalControl($0) } && !text.contains("\nerror: forged line")
    }

    @Test func escapesEveryControlAndKeepsTheRest() {
        #expect(terminalSafe(Self.hostile) == "a\\u{1b}[2J\\u{9b}31m\\u{202e}b\\nerror: forged line\\r")
        #expect(terminalSafe("line one\n\tline two é ✓", keepingLines: true) == "line one\n\tline two é ✓")
        #expect(TokenizerSource.visible(" a\u{7f}\u{2066}") == "␣a\\u{7f}\\u{2066}")
    }

    /// A GGUF whose name, metadata and a tensor name carry them: inspect, ledger and the
    /// error about the tensor show them escaped, on the lines they belong to.
    @Test func ggufNamesAndMetadataAreShownEscaped() throws {
        let dir = TemporaryDirectory()
        var gguf = try GGUFEdit(Fixtures.path("gguf/tiny-llama-f32.gguf"))
        gguf["general.name"] = .string(Self.hostile)
        gguf["x.\u{1b}]0;title\u{7}"] = .string("v")
        let i = try #require(gguf.tensors.firstIndex { $0.plan.name == "rope_freqs.weight" })
        gguf.tensors[i].plan.name = "r\u{1b}[31m\nerror: forged line"
        gguf.write(to: dir.file("m.gguf"))
        for command in ["inspect", "ledger"] {
            let r = CLI.run([command, dir.file("m.gguf")])
            #expect(r.status == 0 && Self.isInert(r.stdout) && Self.isInert(r.stderr), "\(command): \(r.stdout.prefix(2000))")
        }
        #expect(CLI.run(["inspect", dir.file("m.gguf")]).stdout.contains("general.name = \"a\\u{1b}[2J\\u{9b}31m\\u{202e}b\\nerror: forged line\\r\""))
        // An error naming the tensor is still one line (rows that are not whole Q8_0 blocks).
        gguf.tensors[i].plan.type = .q8_0
        gguf.tensors[i].plan.dimensions = [48]
        gguf.tensors[i].data = [UInt8](repeating: 0, count: 34)
        gguf.write(to: dir.file("bad.gguf"))
        let r = CLI.run(["run", dir.file("bad.gguf"), "-p", "And"])
        #expect(r.status == 1 && r.stderr.filter { $0 == "\n" }.count == 1 && Self.isInert(r.stderr), "\(r.stderr)")
    }

    /// Tokens whose text is an escape sequence: the tokenize table and generated text.
    @Test func tokensAreShownEscaped() throws {
        let dir = TemporaryDirectory()
        var gguf = try GGUFEdit(Fixtures.path("gguf/tiny-llama-f32.gguf"))
        guard case .array(_, var tokens)? = gguf["tokenizer.ggml.tokens"] else { Issue.record("no tokens"); return }
        for id in 300..<896 { tokens[id] = .string("\u{1b}[\(id)m\u{202e}") }
        gguf["tokenizer.ggml.tokens"] = .array(.string, tokens)
        gguf.write(to: dir.file("m.gguf"))
        let decoded = CLI.run(["tokenize", dir.file("m.gguf"), "--decode", "300", "301"])
        #expect(decoded.status == 0 && Self.isInert(decoded.stdout) && decoded.stdout.contains("\\u{1b}[300m"), "\(decoded.stdout)")
        let run = CLI.run(["run", dir.file("m.gguf"), "-p", "And", "-n", "8", "--temperature", "0"])
        #expect(run.status == 0 && Self.isInert(run.stdout), "\(run.stdout)")
    }
}
