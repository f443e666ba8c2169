// `plan`: how much memory a model takes to run at a context length, and how large its
// .tlm file would be, per weight scheme, from headers and the configuration alone.
//
// Weights are counted as `convert` would store them (the same per-tensor decision:
// matrices in the scheme or as a mix's rules say, norms and biases in f32, a matrix whose
// rows are not a whole number of the scheme's blocks left in float); the KV cache and the activation buffers as the runner
// allocates them (StateShape says how, for both). The runner widens a safetensors
// checkpoint's matrices to f32 when it runs one directly: its memory is the f32 column.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer

public struct MemoryPlan: Sendable {
    public struct Column: Sendable {
        /// A scheme's name, or "as stored" for the file's own bytes.
        public var name: String
        public var weightBytes: [LedgerCategory: Int]
        /// The .tlm file `convert` would write (uncompressed, without header and embedded files).
        public var fileBytes: Int?
        /// Bytes of a mixture's experts.
        public var expertBytes = 0
        public var totalWeightBytes: Int { weightBytes.values.reduce(0, +) }
    }

    /// The weight bytes one decoded token reads, what bounds decoding speed: a mixture's
    /// token reads only its chosen experts. nil for a dense model (all of them).
    public func activeWeightBytes(_ column: Column) -> Int? {
        guard config.experts > 0, column.expertBytes > 0 else { return nil }
        return config.perToken(total: column.totalWeightBytes, experts: column.expertBytes)
    }

    public var source: String
    public var config: ModelConfig
    public var context: Int
    public var batch: Int
    public var columns: [Column]
    /// How the cache keeps keys and values.
    public var cache: KVCacheType
    public var cacheBytesPerToken: Int
    /// Per token with one key/value head per query head (what grouped-query attention saves).
    public var multiHeadCacheBytesPerToken: Int
    public var scratchBytes: Int

    public static let jsonSchema = "tensorledger.plan/1"

    /// The columns `plan` shows unless asked for one: every plain scheme, and the mix most
    /// downloaded files are.
    public static let defaultSchemes: [WeightChoice] = WeightScheme.plain.map { .scheme($0) } + [.mix(.q4_k_m)]

    public var cacheBytes: Int { cacheBytesPerToken * context * batch }
    public func totalBytes(_ c: Column) -> Int { c.totalWeightBytes + cacheBytes + scratchBytes }

    /// `stored` adds the file's own bytes as the first column; `keep` is convert's `--keep`
    /// (tensors or categories left in float).
    public init(tensors: [TensorInfo], config: ModelConfig, source: String, context: Int, batch: Int, schemes: [WeightChoice], stored: Bool,
                keep: [String] = [], cache: KVCacheType = .f16) throws {
        self.source = source
        self.config = config
        self.context = context
        self.batch = batch
        let family = config.family
        try StoragePlan.checkKeep(keep, names: tensors.map(\.name))
        var columns: [Column] = []
        if stored {
            var bytes: [LedgerCategory: Int] = [:]
            var experts = 0
            for t in tensors {
                guard let s = try? StoragePlan.storage(of: t, family: family, options: ConversionOptions()) else { continue }
                MemoryPlan.add(t.byteCount, s, config: config, to: &bytes)
                if FamilyTensor.isExpert(t.name) { experts += t.byteCount }
            }
            columns.append(Column(name: "as stored", weightBytes: bytes, fileBytes: nil, expertBytes: experts))
        }
        let mixModel = QuantMix.Model(config: config, tensors: tensors)
        for choice in schemes {
            var options = ConversionOptions()
            options.weights = choice
            options.keep = keep
            var bytes: [LedgerCategory: Int] = [:]
            var raw: [Int] = []
            var experts = 0
            for t in tensors {
                guard let s = try StoragePlan.storage(of: t, family: family, options: options, mixModel: mixModel) else { continue }
                MemoryPlan.add(s.rawBytes, s, config: config, to: &bytes)
                raw.append(s.rawBytes)
                if FamilyTensor.isExpert(t.name) { experts += s.rawBytes }
            }
            columns.append(Column(name: choice.name, weightBytes: bytes, fileBytes: StoragePlan.estimatedFileBytes(rawBytes: raw), expertBytes: experts))
        }
        self.columns = columns
        self.cache = cache
        let shape = StateShape(config: config, contextLength: context, cache: cache)
        cacheBytesPerToken = shape.cacheBytesPerToken
        var mha = config
        mha.kvHeads = config.heads
        multiHeadCacheBytesPerToken = StateShape(config: mha, contextLength: context, cache: cache).cacheBytesPerToken
        scratchBytes = shape.scratchBytes(tokens: context, allLogits: false) * batch
    }

    /// A fused Query·Key·Value matrix is shared out by rows, as the ledger splits it.
    private static func add(_ n: Int, _ s: TensorStorage, config: ModelConfig, to bytes: inout [LedgerCategory: Int]) {
        guard s.fusedQKV else { bytes[s.category, default: 0] += n; return }
        let units = config.heads + 2 * config.kvHeads
        let q = n * config.heads / max(units, 1), k = n * config.kvHeads / max(units, 1)
        bytes[.query, default: 0] += q
        bytes[.key, default: 0] += k
        bytes[.value, default: 0] += n - q - k
    }

    // MARK: Reports

    public func textReport() -> String {
        let c = config
        var out = ["Plan for \(source) (\(c.record.displayName), \(c.layers) layers, d_model \(formatCount(c.hiddenSize)), "
                   + "\(c.heads) heads\(c.kvHeads != c.heads ? " over \(c.kvHeads) key/value heads" : ""), vocabulary \(formatCount(c.vocabSize))) "
                   + "at \(formatCount(context)) tokens\(batch > 1 ? ", batch \(batch)" : "")", ""]
        var table = TextTable(headers: ["Bytes"] + columns.map(\.name), alignments: [.left] + columns.map { _ in .right })
        for category in LedgerCategory.allCases where columns.contains(where: { ($0.weightBytes[category] ?? 0) > 0 }) {
            table.add([category.rawValue] + columns.map { formatBytes($0.weightBytes[category] ?? 0) })
        }
        table.add(["Weights"] + columns.map { formatBytes($0.totalWeightBytes) })
        if c.experts > 0 {
            table.add(["Read per token, \(c.expertsPerToken) of \(c.experts) experts"] + columns.map { activeWeightBytes($0).map(formatBytes) ?? "" })
        }
        table.add(["KV cache, \(formatCount(context)) tokens"] + columns.map { _ in formatBytes(cacheBytes) })
        table.add(["Activations, prompt of \(formatCount(context))"] + columns.map { _ in formatBytes(scratchBytes) })
        table.add(["Total"] + columns.map { formatBytes(totalBytes($0)) })
        table.add([".tlm file"] + columns.map { $0.fileBytes.map(formatBytes) ?? "" })
        out.append(table.render())
        out.append("")
        var cache = "KV cache: \(formatCount(cacheBytesPerToken)) bytes per token (keys and values in \(self.cache.rawValue), \(c.layers) layers"
        if multiHeadCacheBytesPerToken > cacheBytesPerToken {
            cache += "; grouped-query attention keeps \(StateShape(config: c, contextLength: context).kvHeads) key/value heads for \(c.heads) query heads, "
                + "\(formatFixed(Double(multiHeadCacheBytesPerToken) / Double(cacheBytesPerToken), 1))× less than one per head"
        }
        out.append(cache + ")")
        out.append("Norms and biases stay f32, as convert keeps them; run a safetensors checkpoint directly and its matrices are widened to f32 (the f32 column).")
        return out.joined(separator: "\n")
    }

    public var json: JSONValue {
        .object(JSONObject([
            "schema": .string(MemoryPlan.jsonSchema),
            "source": .string(source),
            "context": .int(context),
            "batch": .int(batch),
            "kv_cache_type": .string(cache.rawValue),
            "kv_cache_bytes_per_token": .int(cacheBytesPerToken),
            "kv_cache_bytes_per_token_multi_head": .int(multiHeadCacheBytesPerToken),
            "kv_cache_bytes": .int(cacheBytes),
            "activation_bytes": .int(scratchBytes),
            "schemes": .array(columns.map { col in
                var o = JSONObject([
                    "name": .string(col.name),
                    "weight_bytes": .int(col.totalWeightBytes),
                    "weight_bytes_by_category": .object(JSONObject(uniqueKeysWithValues: LedgerCategory.allCases.compactMap { cat in
                        col.weightBytes[cat].map { (cat.identifier, .int($0)) }
                    })),
                    "total_bytes": .int(totalBytes(col)),
                    "file_bytes": col.fileBytes.map { .int($0) } ?? .null,
                ])
                if let active = activeWeightBytes(col) { o["active_weight_bytes"] = .int(active) }
                return .object(o)
            }),
        ]))
    }
}
