// The parameter ledger: every tensor sorted into the GPT-3 walkthrough's eight
// matrix categories or Other, counted as the walkthrough counts them (Key, Query and
// Value one matrix per attention head), with totals that always add up to the file.

/// A weight matrix as the walkthrough shows it: `inputs` × `outputs`, split into `heads`
/// per-head matrices (Key, Query, Value) of `outputs / heads` columns each.
import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer

public struct LedgerShape: Hashable, Sendable {
    public var inputs: Int
    public var outputs: Int
    public var heads: Int

    /// "in × out" of one matrix (per head when split).
    public var text: String {
        if heads <= 1 { return "\(formatCount(inputs)) × \(formatCount(outputs))" }
        if outputs % heads == 0 { return "\(formatCount(inputs)) × \(formatCount(outputs / heads))" }
        return "\(formatCount(inputs)) × \((Double(outputs) / Double(heads) * 10).rounded() / 10)"
    }

    public var json: JSONValue {
        .object(JSONObject(["in": .int(inputs), "out": .int(outputs), "heads": .int(heads)]))
    }
}

public struct LedgerRow: Sendable {
    public var category: LedgerCategory
    /// Matrices as the walkthrough counts them (per head for Key, Query, Value).
    public var matrices: Int
    /// Every shape of the row's matrices (one, in a uniform model).
    public var shapes: Set<LedgerShape>
    public var parameters: Int
    /// The Unembedding row of a model whose unembedding is its embedding matrix:
    /// shown, but not part of the unique total.
    public var tied: Bool
    /// Names of the tensors counted in this row (or split into it).
    public var tensors: [String]

    /// The shape column: one matrix's "in × out", "mixed", or empty.
    public var shapeText: String { shapes.count == 1 ? shapes.first!.text : (shapes.isEmpty ? "" : "mixed") }
}

public struct LayerLedger: Sendable {
    public var layer: Int
    /// Parameters per category, in `LedgerCategory.allCases` order.
    public var parameters: [LedgerCategory: Int]
    public var total: Int { parameters.values.reduce(0, +) }
}

public struct Ledger: Sendable {
    public var source: String
    public var family: ArchitectureFamily?
    public var config: ModelConfig?
    /// One row per category, Embedding to Unembedding, then Other.
    public var rows: [LedgerRow]
    /// Stored tensors that are not parameters (mask buffers, position ids).
    public var buffers: [TensorInfo]
    /// Tensors no rule recognised; they are counted under Other.
    public var unmatched: [String]
    /// Stored bytes per element type, as the file names it (a dtype, or a GGUF file's ggml type).
    public var bytesByDType: [(dtype: String, bytes: Int)]
    public var layers: [LayerLedger]
    /// False when heads were unknown and Key/Query/Value were counted one per tensor.
    public var perHeadCounts: Bool

    /// Parameters stored, each counted once: the file's total (buffers excluded).
    public var uniqueParameters: Int { rows.filter { !$0.tied }.reduce(0) { $0 + $1.parameters } }
    /// Parameters of a mixture's experts (each expert's MLP matrices), per category.
    public var expertParametersByCategory: [LedgerCategory: Int] = [:]
    /// Parameters of a mixture's experts, all categories.
    public var expertParameters: Int { expertParametersByCategory.values.reduce(0, +) }
    /// A mixture of experts: the parameters one token uses (the experts it does not choose
    /// left out); nil for a dense model.
    public var activeParameters: Int? {
        guard let c = config, c.experts > 0, expertParameters > 0 else { return nil }
        return c.perToken(total: uniqueParameters, experts: expertParameters)
    }
    /// What one token uses of a category's parameters: a mixture's Up- and Down-projection
    /// rows count only the experts chosen.
    public func activeParameters(_ c: LedgerCategory) -> Int {
        let row = self.row(c)
        guard let config, let experts = expertParametersByCategory[c] else { return row.parameters }
        return config.perToken(total: row.parameters, experts: experts)
    }
    /// The eight categories with a tied unembedding counted again, as GPT-3's table does.
    public var eightCategoryTotal: Int {
        rows.filter { $0.category != .other }.reduce(0) { $0 + $1.parameters }
    }
    /// Every row, a tied unembedding counted again.
    public var gpt3StyleTotal: Int { rows.reduce(0) { $0 + $1.parameters } }
    public var matrixCount: Int { rows.filter { $0.category != .other }.reduce(0) { $0 + $1.matrices } }
    public var tiedEmbeddings: Bool { rows.contains { $0.tied } }

    public func row(_ c: LedgerCategory) -> LedgerRow { rows.first { $0.category == c }! }

    // MARK: Building

    /// The ledger of a checkpoint; `config` (from config.json beside it) gives heads and family.
    /// `typeNames`: the element type of tensors whose dtype cannot name it (GGUF's quantized ones).
    public init(tensors: [TensorInfo], config: ModelConfig?, source: String, typeNames: [String: String] = [:]) {
        self.source = source
        self.config = config
        let family = config?.family ?? TensorClassifier.detectFamily(tensors.map(\.name))
        self.family = family
        perHeadCounts = config != nil

        var params: [LedgerCategory: Int] = [:]
        var matrices: [LedgerCategory: Int] = [:]
        var shapes: [LedgerCategory: Set<LedgerShape>] = [:]
        var names: [LedgerCategory: [String]] = [:]
        var perLayer: [Int: [LedgerCategory: Int]] = [:]
        var buffers: [TensorInfo] = []
        var unmatched: [String] = []
        var bytes: [String: Int] = [:]

        var experts: [LedgerCategory: Int] = [:]
        func add(_ c: LedgerCategory, _ tensor: TensorInfo, count: Int, matrices m: Int, shape: LedgerShape?) {
            params[c, default: 0] += count
            if FamilyTensor.isExpert(tensor.name) { experts[c, default: 0] += count }
            matrices[c, default: 0] += m
            if let shape { shapes[c, default: []].insert(shape) }
            if names[c]?.last != tensor.name { names[c, default: []].append(tensor.name) }
            if let l = TensorClassifier.layerIndex(of: tensor.name) { perLayer[l, default: [:]][c, default: 0] += count }
        }
        /// A Q/K/V matrix [in × out] holding `heads` heads.
        func addHeads(_ c: LedgerCategory, _ tensor: TensorInfo, inDim: Int, outDim: Int, heads: Int?) {
            let h = max(heads ?? 1, 1)
            add(c, tensor, count: inDim * outDim, matrices: h, shape: LedgerShape(inputs: inDim, outputs: outDim, heads: h))
        }

        for t in tensors {
            let role = family.map { TensorClassifier.role(of: t, family: $0) } ?? .unmatched
            if role != .buffer { bytes[typeNames[t.name] ?? t.dtype.rawValue, default: 0] += t.byteCount }
            switch role {
            case .buffer:
                buffers.append(t)
            case .other:
                add(.other, t, count: t.elementCount, matrices: 0, shape: nil)
            case .unmatched:
                unmatched.append(t.name)
                add(.other, t, count: t.elementCount, matrices: 0, shape: nil)
            case .matrix(let c, let layout):
                let (inDim, outDim) = Ledger.inOut(t.shape, layout, category: c)
                switch c {
                case .query: addHeads(c, t, inDim: inDim, outDim: outDim, heads: config?.heads)
                case .key, .value: addHeads(c, t, inDim: inDim, outDim: outDim, heads: config?.kvHeads)
                default: add(c, t, count: t.elementCount, matrices: 1, shape: LedgerShape(inputs: inDim, outputs: outDim, heads: 1))
                }
            case .fusedQKV(let layout):
                let (inDim, outDim) = Ledger.inOut(t.shape, layout, category: .query)
                let qOut: Int, kvOut: Int
                if let config, config.heads > 0, (config.heads + 2 * config.kvHeads) > 0,
                   outDim % (config.heads + 2 * config.kvHeads) == 0 {
                    let unit = outDim / (config.heads + 2 * config.kvHeads)
                    qOut = unit * config.heads
                    kvOut = unit * config.kvHeads
                } else {
                    qOut = outDim / 3
                    kvOut = (outDim - qOut) / 2
                }
                addHeads(.query, t, inDim: inDim, outDim: qOut, heads: config?.heads)
                addHeads(.key, t, inDim: inDim, outDim: kvOut, heads: config?.kvHeads)
                // Whatever the split leaves over goes to Value, so the rows still add up.
                addHeads(.value, t, inDim: inDim, outDim: outDim - qOut - kvOut, heads: config?.kvHeads)
            }
        }

        var rows: [LedgerRow] = LedgerCategory.allCases.map { c in
            let s = shapes[c] ?? []
            return LedgerRow(category: c, matrices: matrices[c] ?? 0, shapes: s,
                             parameters: params[c] ?? 0, tied: false, tensors: names[c] ?? [])
        }

        // A tied unembedding is the embedding matrix read the other way round.
        let embedding = rows[0]
        if rows[7].parameters == 0, embedding.parameters > 0,
           Ledger.hasTiedUnembedding(family: family, config: config, names: tensors.map(\.name)) {
            let (vocab, d) = Ledger.embeddingShape(embedding, tensors: tensors)
            rows[7] = LedgerRow(category: .unembedding, matrices: 1, shapes: [LedgerShape(inputs: d, outputs: vocab, heads: 1)],
                                parameters: embedding.parameters, tied: true, tensors: embedding.tensors)
        }
        self.rows = rows
        self.buffers = buffers
        self.unmatched = unmatched
        let order = { (name: String) in DType(rawValue: name).map { DType.allCases.firstIndex(of: $0)! } ?? -1 }
        self.bytesByDType = bytes.sorted { (order($0.key), $0.key) < (order($1.key), $1.key) }.map { ($0.key, $0.value) }
        self.layers = perLayer.keys.sorted().map { LayerLedger(layer: $0, parameters: perLayer[$0]!) }
        expertParametersByCategory = experts
    }

    /// The ledger of a model described by a configuration alone.
    public init(config: ModelConfig, source: String) {
        self.init(tensors: config.syntheticTensors(), config: config, source: source)
    }

    package static func hasTiedUnembedding(family: ArchitectureFamily?, config: ModelConfig?, names: [String]) -> Bool {
        switch family {
        case .bert?:
            // Only a masked-LM head has an unembedding; a bare encoder has none.
            return names.contains { $0.contains("cls.predictions.") }
        case nil:
            return false
        default:
            // A causal LM must map back to the vocabulary; with no head stored, it is the embedding.
            return true
        }
    }

    package static func embeddingShape(_ row: LedgerRow, tensors: [TensorInfo]) -> (vocab: Int, d: Int) {
        if let name = row.tensors.first, let t = tensors.first(where: { $0.name == name }), t.rank == 2 {
            return (t.shape[0], t.shape[1])
        }
        return (row.parameters, 1)
    }

    /// (in, out) of a stored matrix. Embeddings are [vocab, d] in every family.
    package static func inOut(_ shape: [Int], _ layout: MatrixLayout, category: LedgerCategory) -> (Int, Int) {
        guard shape.count == 2 else { return (shape.first ?? 0, 1) }
        if category == .embedding { return (shape[0], shape[1]) }
        return layout == .conv1D ? (shape[0], shape[1]) : (shape[1], shape[0])
    }
}
