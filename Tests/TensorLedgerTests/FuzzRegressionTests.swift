// Every fuzzer seed and every input that once crashed a parser, replayed through its
// target on each test run (no fuzzer needed): each seed must come back with the verdict
// fixtures/fuzz/verdicts.json states for it, each crash without a trap or a raw error.

import Testing
@testable import TensorLedger

@Suite struct FuzzRegressionTests {
    static func seeds() throws -> [(target: FuzzTarget, name: String)] {
        try FuzzTarget.allCases.flatMap { target in
            try directoryEntries(Fixtures.path("fuzz/seeds/\(target.rawValue)")).map { (target, "\(target.rawValue)/\($0)") }
        }
    }

    /// Refusals and expected texts match one to one in both directions: each expected text
    /// is in some refusal, and each refusal contains some expected text.
    static func matches(_ verdict: FuzzVerdict, _ expected: [String]) -> Bool {
        if case .unexpected = verdict { return false }
        let refusals = verdict.refusals
        return expected.allSatisfy { e in refusals.contains { $0.contains(e) } }
            && refusals.allSatisfy { r in expected.contains { r.contains($0) } }
    }

    @Test func everySeedGetsItsStatedVerdict() throws {
        let stated = try #require(try Fixtures.json("fuzz/verdicts.json")["seeds"]?.object)
        let seeds = try Self.seeds()
        #expect(seeds.count >= 60)
        #expect(Set(seeds.map(\.name)) == Set(stated.keys), "every seed has a stated verdict and every verdict a seed")
        let scratch = TemporaryDirectory()
        FuzzTarget.prepareScratch(scratch.path)
        for (target, name) in seeds {
            let expected = (stated[name]?.array ?? []).compactMap(\.string)
            let verdict = target.run(try readWholeFile(Fixtures.path("fuzz/seeds/" + name)), scratch: scratch.path)
            #expect(Self.matches(verdict, expected), "\(name): \(verdict); stated: \(expected.isEmpty ? "accepted" : expected.joined(separator: " | "))")
        }
    }

    @Test func verdictsAreCheckedBothWays() {
        #expect(Self.matches(.accepted, []))
        #expect(!Self.matches(.accepted, ["x"]))
        #expect(!Self.matches(.refused(["a b"]), []))
        #expect(Self.matches(.refused(["a b", "c d"]), ["b", "c"]))
        #expect(!Self.matches(.refused(["a b", "c d"]), ["b"]))
        #expect(!Self.matches(.unexpected("x"), []))
    }

    @Test func crashesReplayWithoutARawError() throws {
        let scratch = TemporaryDirectory()
        FuzzTarget.prepareScratch(scratch.path)
        for name in try directoryEntries(Fixtures.path("fuzz/crashes")) {
            // Crash files are named TARGET-crash-HASH by scripts/fuzz.sh.
            let target = try #require(FuzzTarget.allCases.sorted { $0.rawValue.count > $1.rawValue.count }.first { name.hasPrefix($0.rawValue + "-") })
            let verdict = target.run(try readWholeFile(Fixtures.path("fuzz/crashes/" + name)), scratch: scratch.path)
            if case .unexpected = verdict { Issue.record("\(name): \(verdict)") }
        }
    }

    /// The forging target reaches what it is for: a forged file around a real header passes
    /// every checksum, loads and runs, so mutations of the header reach the loader and runner.
    @Test(arguments: ["tiny-genesis-q8.json", "tiny-llama-q8.json"])
    func aForgedFileLoadsAndRuns(_ seed: String) throws {
        let header = try readWholeFile(Fixtures.path("fuzz/seeds/tlm-forged/" + seed))
        let dir = TemporaryDirectory()
        writeFile(dir.file("forged.tlm"), try #require(FuzzTarget.forgeTLM(aroundHeader: header)))
        try TLMFile(path: dir.file("forged.tlm")).verify(threads: 1)
        let model = try ModelLoader.load(dir.file("forged.tlm"), threads: 1)
        var greedy = SamplingOptions()
        greedy.temperature = 0
        // Weights made of header text may overflow: an error naming where is as good an end as text.
        do {
            #expect(try Generator(model: model).generate(promptIDs: [0, 1], maxTokens: 2, sampling: greedy).generatedIDs.count <= 2)
        } catch GenerationError.nonFinite {}
    }
}
