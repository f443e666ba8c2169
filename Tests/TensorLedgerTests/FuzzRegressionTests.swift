// Every fuzzer seed and every input that once crashed a parser, replayed through its
// target on each test run (no fuzzer needed): each must come back without a trap.

import Testing
@testable import TensorLedger

@Suite struct FuzzRegressionTests {
    static func inputs(_ folder: String) -> [(FuzzTarget, String)] {
        FuzzTarget.allCases.flatMap { target -> [(FuzzTarget, String)] in
            let dir = Fixtures.path("fuzz/\(folder)/\(target.rawValue)")
            let names = (try? directoryEntries(dir)) ?? []
            return names.map { (target, joinPath(dir, $0)) }
        } + ((try? directoryEntries(Fixtures.path("fuzz/crashes"))) ?? []).compactMap { name in
            // Crash files are named TARGET-crash-HASH by scripts/fuzz.sh.
            guard folder == "seeds", let t = FuzzTarget.allCases.sorted(by: { $0.rawValue.count > $1.rawValue.count })
                .first(where: { name.hasPrefix($0.rawValue + "-") }) else { return nil }
            return (t, Fixtures.path("fuzz/crashes/" + name))
        }
    }

    @Test func seedsAndCrashesReplayCleanly() throws {
        let cases = Self.inputs("seeds")
        #expect(cases.count >= 40)
        let scratch = TemporaryDirectory()
        FuzzTarget.prepareScratch(scratch.path)
        for (target, path) in cases {
            target.run(try readWholeFile(path), scratch: scratch.path)
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

    /// The sized target makes the large inputs its seeds claim (48 MiB at most).
    @Test func theSizedSeedsReplay() throws {
        let scratch = TemporaryDirectory()
        for name in try directoryEntries(Fixtures.path("fuzz/seeds/sized")) {
            FuzzTarget.sized.run(try readWholeFile(Fixtures.path("fuzz/seeds/sized/" + name)), scratch: scratch.path)
        }
    }
}
