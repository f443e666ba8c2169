// `diff` against numpy (a fine-tune of the demo model, recorded by
// fixtures/scripts/make_finetune_fixture.py) and against convert's own quantization report.

import Testing
@testable import TensorLedger

@Suite struct DiffTests {
    static var reference: JSONObject { get throws { try referenceStorage.get() } }
    private static let referenceStorage = Loaded { try Fixtures.json("expected/finetune-diff.json") }

    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-5) -> Bool { abs(a - b) <= tolerance * max(abs(b), 1e-3) }

    @Test func aFineTuneShowsWhatNumpySawMove() throws {
        let diff = try ModelDiff.compare(Fixtures.model("tiny-genesis"), Fixtures.model("tiny-genesis-finetuned"))
        let expected = try Self.reference["tensors"]!.object!
        #expect(diff.tensors.count == expected.count && diff.onlyInA.isEmpty && diff.onlyInB.isEmpty && diff.shapeMismatches.isEmpty)
        for t in diff.tensors {
            let e = try #require(expected[t.name]?.object, "\(t.name) not in the reference")
            #expect(Self.close(t.sums.relativeChange, e["relative_change"]!.number!), "\(t.name) relative change \(t.sums.relativeChange)")
            #expect(Self.close(Double(t.sums.maxAbsChange), e["max_abs_change"]!.number!), "\(t.name) max change")
            #expect(Self.close(t.sums.cosine, e["cosine"]!.number!, 1e-6), "\(t.name) cosine \(t.sums.cosine)")
        }
        // The tensors that moved, most first, and the layers in the same order as numpy's.
        let moved = try Self.reference["tensor_ranking"]!.array!.map { $0.string! }.filter { expected[$0]!.object!["relative_change"]!.number! > 0 }
        #expect(moved.count >= 8)
        #expect(diff.mostChanged(moved.count).map(\.name) == moved)
        let layers = try Self.reference["layers"]!.object!
        for l in diff.byLayer {
            #expect(Self.close(l.sums.relativeChange, layers[String(l.layer)]!.number!), "layer \(l.layer)")
        }
        #expect(diff.byLayer.sorted { $0.sums.relativeChange > $1.sums.relativeChange }.prefix(2).map { String($0.layer) }
                == (try Self.reference["layer_ranking"]!.array!.prefix(2).map { $0.string! }))
    }

    @Test(arguments: [WeightScheme.q8, .q8Row, .f16])
    func aTLMAgainstItsSourceIsConvertsQuantizationError(_ scheme: WeightScheme) throws {
        let dir = TemporaryDirectory()
        var options = ConversionOptions()
        options.scheme = scheme
        _ = try Converter.convert(input: Fixtures.model("tiny-genesis"), output: dir.file("m.tlm"), options: options)
        let diff = try ModelDiff.compare(Fixtures.model("tiny-genesis"), dir.file("m.tlm"))
        let tlm = try TLMFile(path: dir.file("m.tlm"))
        var checked = 0
        for t in diff.tensors {
            let entry = try #require(tlm.tensor(named: t.name))
            guard let q = entry.quality else {
                // Not quantized: unchanged in f32, within half an f16 step (2^-11 relative) in f16.
                if entry.scheme == .f32 { #expect(t.sums.dd == 0, "\(t.name) is stored as it was, yet differs") }
                else { #expect(t.sums.relativeChange < 0.0005, "\(t.name): \(t.sums.relativeChange) in \(entry.scheme)") }
                continue
            }
            #expect(Self.close(t.sums.rmse, q.rmse, 1e-4), "\(t.name): diff's RMSE \(t.sums.rmse), convert's \(q.rmse)")
            #expect(Self.close(Double(t.sums.maxAbsChange), q.maxAbsoluteError, 1e-4), "\(t.name): max error")
            checked += 1
        }
        #expect(checked >= (scheme.isQuantized ? 17 : 0))
    }

    /// The same for GGUF's Q8_0 (Q and K rows permuted for llama; the repeated GPT-2 head
    /// counted once in the total).
    @Test(arguments: ["tiny-genesis", "tiny-llama"])
    func aGGUFAgainstItsSourceIsConvertsQuantizationError(_ model: String) throws {
        let dir = TemporaryDirectory()
        var options = ConversionOptions()
        options.format = .gguf
        let report = try Converter.convert(input: Fixtures.model(model), output: dir.file("m.gguf"), options: options)
        let diff = try ModelDiff.compare(Fixtures.model(model), dir.file("m.gguf"))
        var checked = Set<String>(), total = QuantizationQuality()
        for item in report.items {
            guard let q = item.quality else { continue }
            let t = try #require(diff.tensors.first { $0.name == item.source.name })
            #expect(Self.close(t.sums.rmse, q.rmse, 1e-4), "\(t.name): diff's RMSE \(t.sums.rmse), convert's \(q.rmse)")
            #expect(Self.close(Double(t.sums.maxAbsChange), Double(q.maxAbsoluteError), 1e-4), "\(t.name): max error")
            if checked.insert(t.name).inserted { total.merge(q) }
        }
        #expect(checked.count >= 7)
        #expect(report.totalQuality == total && total.rmse > 0)
    }

    @Test func missingAndMismatchedTensorsAreNamed() throws {
        // Nothing in common is no comparison at all (RefusedGarbageTests has the CLI's line).
        #expect(throws: GenerationError.self) { _ = try ModelDiff.compare(Fixtures.model("tiny-genesis"), Fixtures.model("tiny-llama")) }
        let dir = TemporaryDirectory()
        let fewer = try editedModel("tiny-genesis-finetuned", in: dir) { tensors in
            tensors.removeAll { $0.spec.name == "transformer.h.3.mlp.c_fc.bias" }
            tensors.append((TensorSpec(name: "extra.weight", dtype: .float32, shape: [2]), [UInt8](repeating: 0, count: 8)))
        }
        let diff = try ModelDiff.compare(Fixtures.model("tiny-genesis"), fewer)
        #expect(diff.onlyInA == ["transformer.h.3.mlp.c_fc.bias"] && diff.onlyInB == ["extra.weight"], "\(diff.onlyInA) \(diff.onlyInB)")
        let r = CLI.run(["diff", Fixtures.model("tiny-genesis"), Fixtures.model("tiny-genesis-finetuned"), "--json", "--top", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSON.parse(Array(r.stdout.utf8)).object)
        #expect(o["schema"]?.string == "tensorledger.diff/1")
        #expect(o["most_changed"]?.array?.count == 3)
    }
}

extension DiffTests {
    /// A checkpoint against its own F32 GGUF: every tensor found under its name, in its
    /// layout (Q and K un-permuted, Conv1D transposed back), and unchanged.
    @Test(arguments: [("tiny-llama", "tiny-llama-f32.gguf"), ("tiny-qwen2", "tiny-qwen2-f32.gguf"), ("tiny-genesis", "tiny-genesis-q8_0.gguf")])
    func aCheckpointAgainstItsGGUF(_ model: String, _ gguf: String) throws {
        let diff = try ModelDiff.compare(Fixtures.model(model), Fixtures.path("gguf/\(gguf)"))
        #expect(diff.onlyInA.isEmpty && diff.onlyInB.isEmpty && diff.shapeMismatches.isEmpty, "\(diff.onlyInA) \(diff.onlyInB)")
        if gguf.contains("f32") {
            #expect(diff.total.dd == 0, "\(gguf): \(diff.mostChanged(1).map(\.name))")
        } else {
            // Q8_0: every matrix within half a quantization step, nothing else touched.
            #expect(diff.total.relativeChange < 0.01 && diff.total.cosine > 0.9999, "\(diff.total.relativeChange)")
        }
    }
}
