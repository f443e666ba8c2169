// Ctrl-C: generation, perplexity and conversion stop at their next safe point and say
// what they did; a conversion leaves nothing behind; the command exits with 130.

import Synchronization
import Testing
@testable import TensorLedger

@Suite struct InterruptTests {
    /// A stand-in for Ctrl-C that arrives after `n` questions.
    final class Countdown: Sendable {
        let left: Atomic<Int>
        init(_ n: Int) { left = Atomic(n) }
        func ask() -> Bool { left.subtract(1, ordering: .relaxed).newValue < 0 }
    }

    @Test func generationStopsWhereItWasInterrupted() throws {
        var greedy = SamplingOptions()
        greedy.temperature = 0
        let generator = Generator(model: try RunnerTests.f32)
        let stop = Countdown(3)
        let stopped = try generator.generate(prompt: "And God said", maxTokens: 20, sampling: greedy, interrupted: stop.ask)
        #expect(stopped.stopReason == .interrupted)
        #expect(stopped.generatedIDs.count == 3)
        // What was made before the interruption is what an uninterrupted run makes.
        let whole = try generator.generate(prompt: "And God said", maxTokens: 20, sampling: greedy)
        #expect(Array(whole.generatedIDs.prefix(3)) == stopped.generatedIDs)
    }

    @Test func perplexityReportsTheWindowsDoneBeforeTheInterruption() throws {
        let model = try RunnerTests.f32
        let ids = try TokenizerTests.goldens["held_out_ids"]!.array!.map { $0.int! }
        var seen: [Int] = []
        let partial = try Perplexity.evaluate(model, ids: ids, context: 32, progress: { done, total in
            #expect(total == ids.count)
            seen.append(done)
        }, interrupted: Countdown(2).ask)
        #expect(partial.interrupted)
        #expect(partial.predicted == 2 * 31)
        #expect(seen == [32, 64])
        #expect(partial.json.object?["complete"]?.bool == false)
        // The figures are those of the same two windows measured alone.
        let firstTwo = try Perplexity.evaluate(model, ids: Array(ids.prefix(64)), context: 32)
        #expect(firstTwo.meanNLL == partial.meanNLL)
        #expect(firstTwo.json.object?["complete"]?.bool == true)
        #expect(throws: InterruptedError.self) { try Perplexity.evaluate(model, ids: ids, context: 32, interrupted: { true }) }
    }

    @Test(arguments: [ConversionOptions.OutputFormat.tlm, .gguf])
    func anInterruptedConversionLeavesNothing(_ format: ConversionOptions.OutputFormat) throws {
        let dir = TemporaryDirectory()
        var options = ConversionOptions()
        options.format = format
        let stop = Countdown(5)
        options.interrupted = { stop.ask() }
        #expect(throws: InterruptedError.self) {
            try Converter.convert(input: Fixtures.model("tiny-genesis"), output: dir.file("m.out"), options: options)
        }
        #expect(try directoryEntries(dir.path).isEmpty)
        #expect(InterruptedError(progress: "x").category.exitCode == 130)
    }

    #if os(Linux)
    @Test func ctrlCDuringPerplexityPrintsTheFiguresSoFarAndExits130() throws {
        // Genesis is 78,000 tokens: Ctrl-C is typed once the progress bar shows the first
        // windows done, long before the last.
        let run = try #require(PseudoTerminal(CLI.binary, ["perplexity", Fixtures.model("tiny-genesis"), "--file", Fixtures.path("text/genesis.txt"),
                                                           "--threads", "1"]))
        #expect(run.waitFor("perplexity ["), "no progress: \(run.screen)")
        run.type("\u{03}")
        #expect(run.exitStatus() == 130, "\(run.screen)")
        #expect(run.screen.contains("interrupted, so over the first windows only"), "\(run.screen)")
        #expect(run.screen.contains(": perplexity "), "\(run.screen)")
    }
    #endif
}
