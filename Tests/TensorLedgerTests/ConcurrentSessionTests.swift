// One loaded model serves several callers at once: each session keeps its own state, the
// worker pool serves one job at a time (a second caller does its own chunks), and the
// kernel variant is the model's, whatever other models or tests on other threads use.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TensorLedger

@Suite struct ConcurrentSessionTests {
    static let prompts = ["And God said", "In the beginning God created the heaven"]

    static var greedy: SamplingOptions {
        var s = SamplingOptions()
        s.temperature = 0
        return s
    }

    /// What one session makes of a prompt: the ids it generates and the last logits.
    static func alone(_ model: any LanguageModel, _ prompt: String) throws -> (ids: [Int], logits: [Float]) {
        let g = Generator(model: model)
        let result = try g.generate(prompt: prompt, maxTokens: 12, sampling: greedy)
        return (result.generatedIDs, try g.lastLogits(result.promptIDs + result.generatedIDs))
    }

    /// Runs `work(i)` for every i at once on threads of their own, several rounds.
    static func together<T: Sendable>(_ count: Int, _ work: @Sendable @escaping (Int) throws -> T) throws -> [T] {
        let results = ResultsBox<T>(count)
        DispatchQueue.concurrentPerform(iterations: count) { i in results.set(i, Result { try work(i) }) }
        return try results.values.map { try $0!.get() }
    }

    @Test func twoSessionsOfOneModelEachGetTheirOwnOutput() throws {
        let model = try ModelLoader.load(Fixtures.model("tiny-genesis"), threads: 2)
        let expected = try Self.prompts.map { try Self.alone(model, $0) }
        #expect(expected[0].ids != expected[1].ids)
        for _ in 0..<5 {
            let got = try Self.together(2) { i in try Self.alone(model, Self.prompts[i]) }
            for i in 0..<2 {
                #expect(got[i].ids == expected[i].ids)
                #expect(got[i].logits == expected[i].logits, "session \(i): logits differ from the session run alone")
            }
        }
    }

    @Test func twoChatsOfOneModelEachGetTheirOwnReplies() throws {
        let model = try ModelLoader.load(Fixtures.model("tiny-genesis"), threads: 2)
        @Sendable func chat(_ i: Int) throws -> [String] {
            let session = try ChatSession(model: model, template: .plain, system: nil, sampling: Self.greedy, maxReplyTokens: 8, source: "test")
            return try [Self.prompts[i], "And the earth"].map { try session.respond(to: $0).reply }
        }
        let expected = try (0..<2).map(chat)
        for _ in 0..<3 {
            #expect(try Self.together(2, chat) == expected)
        }
    }

    /// Each model computes with its own kernel variant while another runs beside it: the
    /// portable model's logits are the portable ones exactly, the detected model's its own.
    @Test func eachModelKeepsItsKernelVariant() throws {
        let portable = try ModelLoader.load(Fixtures.model("tiny-genesis"), threads: 2, kernels: .portable)
        let best = try ModelLoader.load(Fixtures.model("tiny-genesis"), threads: 2)
        #expect(portable.kernels == .portable && best.kernels == .detected)
        let models: [any LanguageModel] = [portable, best]
        let expected = try models.map { try Self.alone($0, Self.prompts[0]) }
        // The variants round differently, so a model that ran the other's would be seen.
        if KernelISA.detected != .portable { #expect(expected[0].logits != expected[1].logits) }
        for _ in 0..<3 {
            let got = try Self.together(2) { i in try Self.alone(models[i], Self.prompts[0]) }
            #expect(got[0].logits == expected[0].logits && got[1].logits == expected[1].logits)
        }
        // The calling thread's own choice is untouched by the models it ran.
        #expect(KernelISA.active == .detected)
    }

    #if os(Linux)
    /// A thread's choice of variant is its own: a thread started meanwhile uses the detected one.
    @Test func aThreadsKernelChoiceIsItsOwn() throws {
        let other = ResultsBox<KernelISA>(1)
        KernelISA.with(.portable) {
            #expect(KernelISA.active == .portable)
            var handle = pthread_t()
            let box = Unmanaged.passRetained(other)
            #expect(pthread_create(&handle, nil, { arg in
                Unmanaged<ResultsBox<KernelISA>>.fromOpaque(arg!).takeRetainedValue().set(0, .success(KernelISA.active))
                return nil
            }, box.toOpaque()) == 0)
            pthread_join(handle, nil)
        }
        #expect(try other.values[0]?.get() == .detected)
        #expect(KernelISA.active == .detected)
    }
    #endif
}

/// Results written by concurrent iterations, each to its own slot of one allocation.
final class ResultsBox<T>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Result<T, any Error>?>
    init(_ count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }
    deinit { slots.deinitialize().deallocate() }
    func set(_ i: Int, _ r: Result<T, any Error>) { slots[i] = r }
    var values: [Result<T, any Error>?] { Array(slots) }
}
