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
}
