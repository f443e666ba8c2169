// Writing safetensors files: the header as the official writer lays it out (JSON
// padded with spaces to a multiple of 8), then each tensor's bytes in header order.
// Used for synthetic benchmark checkpoints and test inputs.

public struct TensorSpec: Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }
    public var byteCount: Int { shape.reduce(1, *) * dtype.bitSize / 8 }
}

public enum SafetensorsWriter {
    /// The complete header bytes (length prefix included) for tensors laid out in order.
    public static func header(for tensors: [TensorSpec], metadata: [(String, String)] = []) -> [UInt8] {
        var root = JSONObject()
        if !metadata.isEmpty {
            root["__metadata__"] = .object(JSONObject(uniqueKeysWithValues: metadata.map { ($0.0, .string($0.1)) }))
        }
        var offset = 0
        for t in tensors {
            root[t.name] = .object(JSONObject([
                "dtype": .string(t.dtype.rawValue),
                "shape": .array(t.shape.map { .int($0) }),
                "data_offsets": .array([.int(offset), .int(offset + t.byteCount)]),
            ]))
            offset += t.byteCount
        }
        var json = Array(JSONValue.object(root).serialized(pretty: false).utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        out += json
        return out
    }

    /// Writes a file atomically; `fill` produces each tensor's bytes into a scratch buffer
    /// of exactly its size. With `sparse`, tensor data is a hole of zeros (instant, for
    /// header-only benchmarks of models too large to store).
    public static func write(path: String, tensors: [TensorSpec], metadata: [(String, String)] = [], overwrite: Bool = false,
                             sparse: Bool = false,
                             fill: (TensorSpec, UnsafeMutableRawBufferPointer) -> Void) throws(FileError) {
        let out = try AtomicFileWriter(path: path, overwrite: overwrite)
        let head = header(for: tensors, metadata: metadata)
        try out.write(head)
        if sparse {
            try out.extend(to: head.count + tensors.reduce(0) { $0 + $1.byteCount })
        } else {
            var scratch: [UInt8] = []
            for t in tensors {
                if scratch.count < t.byteCount { scratch = [UInt8](repeating: 0, count: t.byteCount) }
                let result = scratch.withUnsafeMutableBytes { raw in
                    let slice = UnsafeMutableRawBufferPointer(rebasing: raw[0..<t.byteCount])
                    fill(t, slice)
                    return Result { () throws(FileError) in try out.write(UnsafeRawBufferPointer(slice)) }
                }
                try result.get()
            }
        }
        try out.commit()
    }
}

/// A small, fast, seedable generator (SplitMix64) so synthetic checkpoints are reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An approximately normal value with mean 0 and standard deviation `std`
    /// (the sum of four uniform 16-bit draws).
    public mutating func nextGaussianish(std: Float) -> Float {
        let r = next()
        let s = Float(r & 0xFFFF) + Float((r >> 16) & 0xFFFF) + Float((r >> 32) & 0xFFFF) + Float(r >> 48)
        // Sum of four U(0, 65536) has mean 131070 and standard deviation 65536·sqrt(1/3).
        return (s - 131_070) * (std / 37_837.2)
    }
}

public enum SyntheticCheckpoint {
    /// Writes a checkpoint of `config`'s shape with GPT-2-like random weights
    /// (normal, std 0.02; norms 1, biases 0) from a fixed seed, plus config.json beside it.
    public static func write(config: ModelConfig, directory: String, dtype: DType = .float32, seed: UInt64 = 42,
                             sparse: Bool = false, overwrite: Bool = false) throws(FileError) {
        let specs = config.syntheticTensors().map { TensorSpec(name: $0.name, dtype: dtype, shape: $0.shape) }
        var rng = SplitMix64(seed: seed)
        try write(path: joinPath(directory, "model.safetensors"), specs: specs, rng: &rng, sparse: sparse, overwrite: overwrite)
        try writeConfig(config, to: joinPath(directory, "config.json"), overwrite: overwrite)
    }

    private static func write(path: String, specs: [TensorSpec], rng: inout SplitMix64, sparse: Bool, overwrite: Bool) throws(FileError) {
        try SafetensorsWriter.write(path: path, tensors: specs, metadata: [("format", "pt")], overwrite: overwrite, sparse: sparse) { spec, raw in
            let n = spec.shape.reduce(1, *)
            let isNorm = spec.shape.count == 1 && spec.name.hasSuffix(".weight")
            let isBias = spec.name.hasSuffix(".bias")
            for i in 0..<n {
                let v: Float = isNorm ? 1 : (isBias ? 0 : rng.nextGaussianish(std: 0.02))
                switch spec.dtype {
                case .float16: raw.storeBytes(of: halfBitsFromFloat(v).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                case .bfloat16: raw.storeBytes(of: bfloat16BitsFromFloat(v).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                default: raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
            }
        }
    }

    /// config.json in Hugging Face's GPT-2 / LLaMA / BERT / NeoX spelling.
    public static func writeConfig(_ c: ModelConfig, to path: String, overwrite: Bool) throws(FileError) {
        var o = JSONObject()
        o["model_type"] = .string(c.modelType)
        switch c.family {
        case .gpt2:
            o["vocab_size"] = .int(c.vocabSize); o["n_embd"] = .int(c.hiddenSize); o["n_layer"] = .int(c.layers)
            o["n_head"] = .int(c.heads); o["n_positions"] = .int(c.contextLength); o["n_inner"] = .int(c.intermediateSize)
            o["layer_norm_epsilon"] = .double(c.layerNormEpsilon)
        default:
            o["vocab_size"] = .int(c.vocabSize); o["hidden_size"] = .int(c.hiddenSize); o["num_hidden_layers"] = .int(c.layers)
            o["num_attention_heads"] = .int(c.heads); o["num_key_value_heads"] = .int(c.kvHeads)
            o["intermediate_size"] = .int(c.intermediateSize); o["max_position_embeddings"] = .int(c.contextLength)
            o["head_dim"] = .int(c.headDim); o["attention_bias"] = .bool(c.attentionBias); o["hidden_act"] = .string(c.activation)
            o["rms_norm_eps"] = .double(c.layerNormEpsilon); o["rope_theta"] = .double(c.ropeTheta)
            if let r = c.ropeScaling { o["rope_scaling"] = r.json }
            if let w = c.slidingWindow { o["sliding_window"] = .int(w) }
        }
        o["tie_word_embeddings"] = .bool(c.tiedEmbeddings)
        let out = try AtomicFileWriter(path: path, overwrite: overwrite)
        try out.write(Array((JSONValue.object(o).serialized() + "\n").utf8))
        try out.commit()
    }
}
