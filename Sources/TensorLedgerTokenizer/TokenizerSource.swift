// Finding the tokenizer of whatever a user names: a .tlm file carries its own, a model
// directory holds tokenizer.json, or the path is a tokenizer.json or GGUF vocabulary.

import TensorLedgerCore
import TensorLedgerFormats

public enum TokenizerSource {
    /// The tokenizer.json of a model directory; a directory without one is refused the same
    /// way by every command, naming the slow tokenizer's files when those are what it has.
    public static func tokenizerJSON(inDirectory directory: String) throws(TokenizerError) -> String {
        let p = joinPath(directory, "tokenizer.json")
        if pathKind(p) != .missing { return p }
        if pathKind(joinPath(directory, "vocab.json")) == .file && pathKind(joinPath(directory, "merges.txt")) == .file {
            throw .slowTokenizerOnly(source: directory)
        }
        throw .noTokenizer(source: directory)
    }

    /// A token's text with whitespace and control characters made visible.
    public static func visible(_ s: String) -> String {
        terminalSafe(s.replacing(" ", with: "␣"))
    }
}

/// What `tokenize` shows, either way round: the text, its token ids, and the text each stands for.
public struct TokenizationReport: Sendable {
    public static let jsonSchema = "tensorledger.tokenize/1"
    public var text: String
    public var ids: [Int]
    /// The text of each token alone (U+FFFD where a token holds part of a character).
    public var pieces: [String]
    public var inputBytes: Int { text.utf8.count }

    /// Encoding `text`.
    public init(text: String, tokenizer: BPETokenizer) throws {
        self.text = text
        ids = tokenizer.encode(text)
        pieces = try ids.map { try tokenizer.piece($0) }
    }

    /// Decoding `ids` (special tokens kept, so what was encoded comes back).
    public init(ids: [Int], tokenizer: BPETokenizer) throws {
        text = try tokenizer.decode(ids, skipSpecialTokens: false)
        self.ids = ids
        pieces = try ids.map { try tokenizer.piece($0) }
    }

    /// One line per token: id, tab, the piece with whitespace made visible.
    public var textReport: String {
        zip(ids, pieces).map { "\($0)\t\(TokenizerSource.visible($1))" }.joined(separator: "\n")
    }

    public var summaryLine: String { "\(ids.count) tokens, \(inputBytes) bytes" }
    public var json: JSONValue {
        JSONObject([
            "text": .string(text), "ids": .array(ids.map { .int($0) }), "pieces": .array(pieces.map { .string($0) }),
        ]).report(schema: Self.jsonSchema)
    }
}
