// The README's examples are real: every `$ tensorledger …` line in it is run, and what it
// printed must be what the README shows (timings, thread counts and seeds masked; a line
// "…" stands for any number of lines; warnings the README leaves out are passed over).

import Testing
@testable import TensorLedger

@Suite(.serialized) struct ReadmeTests {
    struct Example {
        var command: String
        var shown: [String]
    }

    /// The README's `$ ` lines and the lines shown after each, up to the next `$ ` or the
    /// end of the code block.
    static func examples() throws -> [Example] {
        let readme = String(decoding: try readWholeFile(Fixtures.root + "/README.md"), as: UTF8.self)
        var out: [Example] = []
        var inBlock = false, open = false
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") { inBlock.toggle(); open = false; continue }
            guard inBlock else { continue }
            if line.hasPrefix("$ ") {
                out.append(Example(command: String(line.dropFirst(2)), shown: []))
                open = true
            } else if open {
                out[out.count - 1].shown.append(line)
            }
        }
        return out
    }

    /// Numbers that differ from run to run and machine to machine: timings, threads, drawn
    /// seeds, and the int8 model's perplexity figures (kernels per ISA round differently).
    static func masked(_ line: String) -> String {
        var s = line
        if s.contains("q8.tlm: perplexity") || s.hasPrefix("mean KL divergence") { s = s.replacing(try! Regex(#"[0-9][0-9.]*"#), with: "#") }
        for pattern in [#"[0-9][0-9.,]*\s*(ms|s|MB/s|GB/s|tokens/s)\b"#, #"[0-9]+ threads?"#, #"seed [0-9]+"#] {
            s = s.replacing(try! Regex(pattern), with: "#")
        }
        return s.trimmingSuffix()
    }

    @Test func everyExampleShowsWhatTheCommandPrints() throws {
        let dir = TemporaryDirectory()
        let examples = try Self.examples()
        #expect(examples.count >= 15)
        for example in examples {
            let command = example.command.replacing("/tmp/", with: dir.path + "/")
            let r = try #require(ChildProcess.run("/bin/bash", ["-c", "cd '\(Fixtures.root)' && " + command.replacing("tensorledger ", with: "'\(CLI.binary)' ")]))
            let shown = example.shown.filter { !$0.isEmpty }.map { Self.masked($0.replacing("/tmp/", with: dir.path + "/")) }
            let printed = (r.stdout + r.stderr).split(separator: "\n").map { Self.masked(String($0)) }
                .filter { !$0.isEmpty && !($0.hasPrefix("warning:") && !shown.contains($0)) }
            #expect(Self.matches(shown, printed), "\(example.command)\nREADME:\n\(shown.joined(separator: "\n"))\nprinted:\n\(printed.joined(separator: "\n"))")
        }
    }

    /// `shown` against `printed` line by line, "…" matching any run of lines.
    static func matches(_ shown: [String], _ printed: [String]) -> Bool {
        guard let first = shown.first else { return true }
        if first == "…" { return (0...printed.count).contains { matches(Array(shown.dropFirst()), Array(printed.dropFirst($0))) } }
        guard let line = printed.first, line == first else { return false }
        return matches(Array(shown.dropFirst()), Array(printed.dropFirst()))
    }
}

extension String {
    func trimmingSuffix() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
