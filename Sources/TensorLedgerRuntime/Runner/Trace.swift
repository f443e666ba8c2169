// One forward pass shown stage by stage, as the GPT walkthrough draws it: text → tokens
// → embedding vectors (+ positions) → each block's attention and MLP (which ledger
// matrices, shapes in and out, how far the last token's vector moved) → the last
// vector → logits → probabilities.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One operation of a stage as `trace` lists it: a ledger matrix with its shape (named as
/// the ledger names it; GPT-2's fused attention weight is query+key+value), or a step between.
public enum TraceStep: Sendable, Equatable {
    case lookup(rows: Int, width: Int)
    case positionEmbedding
    case norm(String)
    case matrix(String, in: Int, out: Int)
    case attention(heads: Int, kvHeads: Int)
    case rope
    case activation(String)

    public var text: String {
        switch self {
        case .lookup(let rows, let width): return "embedding [\(formatCount(rows)) × \(formatCount(width))] row lookup"
        case .positionEmbedding: return "position embedding"
        case .norm(let name), .activation(let name): return name
        case .matrix(let name, let i, let o): return "\(name) [\(formatCount(i)) × \(formatCount(o))]"
        case .attention(let heads, let kv): return kv == heads ? "\(heads) heads" : "\(heads) heads over \(kv) key/value heads"
        case .rope: return "RoPE"
        }
    }

    public var json: JSONValue {
        let o: JSONObject
        switch self {
        case .lookup(let rows, let width): o = JSONObject(["op": .string("lookup"), "name": .string("embedding"), "rows": .int(rows), "width": .int(width)])
        case .positionEmbedding: o = JSONObject(["op": .string("position_embedding")])
        case .norm(let name): o = JSONObject(["op": .string("norm"), "name": .string(name)])
        case .matrix(let name, let i, let out): o = JSONObject(["op": .string("matrix"), "name": .string(name), "in": .int(i), "out": .int(out)])
        case .attention(let heads, let kv): o = JSONObject(["op": .string("attention"), "heads": .int(heads), "kv_heads": .int(kv)])
        case .rope: o = JSONObject(["op": .string("rope")])
        case .activation(let name): o = JSONObject(["op": .string("activation"), "name": .string(name)])
        }
        return .object(o)
    }
}

public struct ForwardTrace: Sendable {
    public static let jsonSchema = "tensorledger.trace/2"
    public struct Stage: Sendable {
        public var name: String
        /// What the stage applies: ledger matrices with their shapes, and the steps between.
        public var matrices: [TraceStep]
        public var shapeIn: [Int]
        public var shapeOut: [Int]
        /// The last token's vector after this stage: its length and first values.
        public var norm: Double
        public var head: [Float]
        /// ‖Δ‖ / ‖x before‖ for the last token: how far the stage moved it.
        public var moved: Double?
    }

    public var text: String
    public var tokens: [(id: Int, text: String)]
    public var stages: [Stage]
    public var top: [TokenProbability]
    public var vocabularySize: Int

    /// The report; with a `width` (a terminal's), the matrices and first values wrap to fit it.
    public func textReport(width: Int? = nil) -> String {
        var out: [String] = []
        out.append("Text: \"\(terminalSafe(text))\"")
        out.append("Tokens (\(tokens.count)): " + tokens.map { "\($0.id) \"\(TokenizerSource.visible($0.text))\"" }.joined(separator: " · "))
        out.append("")
        var table = TextTable(headers: ["Stage", "Matrices", "Shape in → out", "‖x‖ (last token)", "Moved", "First values"],
                              alignments: [.left, .left, .left, .right, .right, .left])
        for s in stages {
            table.add([s.name, s.matrices.map(\.text).joined(separator: ", "),
                       ForwardTrace.shape(s.shapeIn) + " → " + ForwardTrace.shape(s.shapeOut),
                       formatFixed(s.norm, 3), s.moved.map { formatFixed($0 * 100, 1) + "%" } ?? "",
                       s.head.map { formatFixed(Double($0), 3) }.joined(separator: " ")])
        }
        out.append(table.render(width: width, wrapping: [1, 5]))
        out.append("")
        out.append("Next token (softmax of \(formatCount(vocabularySize)) logits):")
        var t = TextTable(headers: ["Token", "Text", "Logit", "Probability"], alignments: [.right, .left, .right, .right])
        for c in top {
            t.add([String(c.id), "\"" + TokenizerSource.visible(c.text) + "\"", formatFixed(Double(c.logit), 3), formatFixed(Double(c.probability) * 100, 2) + "%"])
        }
        out.append(t.render())
        return out.joined(separator: "\n")
    }

    package static func shape(_ s: [Int]) -> String { "[" + s.map { formatCount($0) }.joined(separator: ", ") + "]" }

    public var json: JSONValue {
        JSONObject([
            "text": .string(text),
            "tokens": .array(tokens.map { .object(JSONObject(["id": .int($0.id), "text": .string($0.text)])) }),
            "stages": .array(stages.map { s in
                .object(JSONObject([
                    "name": .string(s.name), "steps": .array(s.matrices.map(\.json)),
                    "shape_in": .array(s.shapeIn.map { .int($0) }), "shape_out": .array(s.shapeOut.map { .int($0) }),
                    "norm": .double(s.norm), "first_values": .array(s.head.map { .double(Double($0)) }),
                    "moved": s.moved.map { .double($0) } ?? .null,
                ]))
            }),
            "top": .array(top.map(\.json)),
        ]).report(schema: Self.jsonSchema)
    }
}

package final class TraceRecorder: ForwardObserver {
    package let model: any LanguageModel
    package var stages: [ForwardTrace.Stage] = []
    package var lastNorm = 0.0
    package var T = 0

    package init(model: any LanguageModel) { self.model = model }

    /// The Euclidean norm (in f64) and the first values of a vector.
    package static func vectorStats(_ x: UnsafePointer<Float>, d: Int) -> (norm: Double, head: [Float]) {
        var s = 0.0
        for i in 0..<d { s += Double(x[i]) * Double(x[i]) }
        return (s.squareRoot(), Array(UnsafeBufferPointer(start: x, count: min(6, d))))
    }

    package func embedded(tokens: [Int], x: UnsafeMutablePointer<Float>, d: Int) {
        T = tokens.count
        let (norm, head) = Self.vectorStats(x + (T - 1) * d, d: d)
        lastNorm = norm
        stages.append(.init(name: model.config.family == .gpt2 ? "Embedding + positions" : "Embedding", matrices: model.describe(.embedding),
                            shapeIn: [T], shapeOut: [T, d], norm: norm, head: head, moved: nil))
    }

    package func attended(layer: Int, x: UnsafeMutablePointer<Float>, T: Int, d: Int, delta: UnsafeMutablePointer<Float>) {
        let (norm, head) = Self.vectorStats(x + (T - 1) * d, d: d)
        let (dn, _) = Self.vectorStats(delta + (T - 1) * d, d: d)
        stages.append(.init(name: "Block \(layer) attention", matrices: model.describe(.attention),
                            shapeIn: [T, d], shapeOut: [T, d], norm: norm, head: head, moved: lastNorm > 0 ? dn / lastNorm : nil))
        lastNorm = norm
    }

    package func mlp(layer: Int, x: UnsafeMutablePointer<Float>, T: Int, d: Int, delta: UnsafeMutablePointer<Float>) {
        let (norm, head) = Self.vectorStats(x + (T - 1) * d, d: d)
        let (dn, _) = Self.vectorStats(delta + (T - 1) * d, d: d)
        stages.append(.init(name: "Block \(layer) MLP", matrices: model.describe(.mlp),
                            shapeIn: [T, d], shapeOut: [T, d], norm: norm, head: head, moved: lastNorm > 0 ? dn / lastNorm : nil))
        lastNorm = norm
    }

    package func finished(x: UnsafeMutablePointer<Float>, d: Int) {
        let (norm, head) = Self.vectorStats(x, d: d)
        let normName = model.describe(.finalNorm).first?.text ?? "norm"
        stages.append(.init(name: "Final \(normName)", matrices: model.describe(.finalNorm), shapeIn: [T, d], shapeOut: [d], norm: norm, head: head, moved: nil))
        stages.append(.init(name: "Unembedding", matrices: model.describe(.unembedding), shapeIn: [d], shapeOut: [model.vocabularySize],
                            norm: 0, head: [], moved: nil))
    }
}

extension LanguageModel {
    /// Logits with NaN or infinity are an error naming the first stage whose output went
    /// bad for the last token (found by running `ids` again with every stage recorded).
    package func checkFinite(_ logits: UnsafeBufferPointer<Float>, after ids: @autoclosure () -> [Int]) throws {
        guard logits.contains(where: { !$0.isFinite }) else { return }
        let recorder = TraceRecorder(model: self)
        try forward(ids(), state: makeState(), allLogits: false, observer: recorder)
        throw GenerationError.nonFinite(stage: recorder.stages.first { !$0.norm.isFinite }.map { "\"\($0.name)\"" } ?? "the unembedding")
    }
}

extension Generator {
    /// Runs `prompt` once, recording every stage.
    public func trace(prompt: String, top: Int = 5, temperature: Float = 1) throws -> ForwardTrace {
        let ids = try promptIDs(prompt)
        let recorder = TraceRecorder(model: model)
        state.reset()
        try model.forward(ids, state: state, allLogits: false, observer: recorder)
        let logits = decodableLogits
        var stages = recorder.stages
        if var last = stages.popLast(), let base = logits.baseAddress {
            (last.norm, last.head) = TraceRecorder.vectorStats(base, d: logits.count)
            stages.append(last)
        }
        return ForwardTrace(text: prompt, tokens: try ids.map { ($0, try model.tokenizer.piece($0)) },
                            stages: stages, top: try candidates(top: top, temperature: temperature),
                            vocabularySize: model.vocabularySize)
    }
}
