// The rows of the GPT-3 walkthrough's parameter table: the role a weight matrix plays.

/// The eight matrix categories of the GPT-3 walkthrough, plus everything else.
public enum LedgerCategory: String, CaseIterable, Sendable {
    case embedding = "Embedding"
    case key = "Key"
    case query = "Query"
    case value = "Value"
    case output = "Output"
    case upProjection = "Up-projection"
    case downProjection = "Down-projection"
    case unembedding = "Unembedding"
    case other = "Other"

    public static let matrixCategories: [LedgerCategory] = [.embedding, .key, .query, .value, .output, .upProjection, .downProjection, .unembedding]

    /// Stable lower-case identifier for JSON and the .tlm tensor table.
    public var identifier: String {
        switch self {
        case .embedding: return "embedding"
        case .key: return "key"
        case .query: return "query"
        case .value: return "value"
        case .output: return "output"
        case .upProjection: return "up"
        case .downProjection: return "down"
        case .unembedding: return "unembedding"
        case .other: return "other"
        }
    }

    public init?(identifier: String) {
        guard let c = LedgerCategory.allCases.first(where: { $0.identifier == identifier }) else { return nil }
        self = c
    }
}
