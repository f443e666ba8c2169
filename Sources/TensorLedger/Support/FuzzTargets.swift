// Entry points that feed arbitrary bytes to every parser of untrusted input. The fuzzer
// (Sources/tensorledger-fuzz, scripts/fuzz.sh) calls them with libFuzzer's inputs; the
// tests replay the corpus and every input that once crashed through them. Each must
// return or throw a TensorLedgerError for any input: never trap, never hang.

public enum FuzzTarget: String, CaseIterable, Sendable {
    case safetensors
    case index
    case tlm
    /// The .tlm header parser alone: whole files rarely get past the checksums.
    case tlmHeader = "tlm-header"
    case tokenizerJSON = "tokenizer-json"
    case tokenizerCompact = "tokenizer-bpe"
    case tokenize
    case gguf
    case json

    /// Runs the target on `bytes`. Temporary files, where a parser reads from disk, go to `scratch`.
    public func run(_ bytes: [UInt8], scratch: String) {
        switch self {
        case .json:
            _ = try? JSON.parse(bytes)
        case .safetensors:
            let header = bytes.withUnsafeBytes { raw in Result { try SafetensorsHeader.parse(raw, file: "fuzz") } }
            if case .success(let h) = header, h.tensors.count < 64 {
                // Reading what a valid header describes must be safe too.
                let path = joinPath(scratch, "fuzz.safetensors")
                if (try? FuzzTarget.write(bytes, to: path)) != nil, let file = try? SafetensorsFile(path: path) {
                    for t in file.tensors where t.dtype.isConvertibleToFloat && t.elementCount < 1 << 16 {
                        _ = try? floatValues(file.data(for: t), info: t)
                    }
                    _ = Ledger(tensors: file.tensors, config: nil, source: "fuzz").textReport()
                }
            }
        case .index:
            // An index beside a valid shard: the consistency checks, not the shard, are under test.
            let dir = scratch
            guard (try? FuzzTarget.write(bytes, to: joinPath(dir, Checkpoint.indexFileName))) != nil else { return }
            _ = try? Checkpoint.open(joinPath(dir, Checkpoint.indexFileName))
        case .tlm:
            let path = joinPath(scratch, "fuzz.tlm")
            guard (try? FuzzTarget.write(bytes, to: path)) != nil, let tlm = try? TLMFile(path: path) else { return }
            _ = try? tlm.verify(threads: 1)
            for t in tlm.tensors.prefix(16) { _ = try? tlm.rawBytes(of: t) }
            for b in tlm.header.blobs.prefix(4) { _ = try? tlm.blob(named: b.name) }
            _ = InspectReport(tlm: tlm).textReport()
        case .tlmHeader:
            _ = bytes.withUnsafeBytes { raw in try? TLMFile.parseHeader(raw, path: "fuzz", dataLength: 1 << 20) }
        case .tokenizerJSON:
            if let tok = try? BPETokenizer.fromTokenizerJSON(bytes, source: "fuzz") {
                let ids = tok.encode("Hello world, it's 2026! 你好 👋")
                _ = try? tok.decode(ids)
            }
        case .tokenizerCompact:
            if let tok = try? BPETokenizer.fromCompact(bytes, source: "fuzz") {
                let ids = tok.encode("Hello world, it's 2026! 你好 👋")
                _ = try? tok.decode(ids)
            }
        case .tokenize:
            let tok = FuzzTarget.gpt2Tokenizer
            let text = String(decoding: bytes, as: UTF8.self)
            let ids = tok.encode(text)
            _ = try? tok.decode(ids)
            var stream = StreamingDecoder()
            for id in ids { _ = stream.append((try? tok.bytes(of: id)) ?? []) }
            _ = stream.finish()
            // Decoding arbitrary ids: two bytes per id.
            var pairs: [Int] = []
            var i = 0
            while i + 1 < bytes.count { pairs.append(Int(bytes[i]) << 8 | Int(bytes[i + 1])); i += 2 }
            _ = try? tok.decode(pairs)
        case .gguf:
            if let file = try? GGUFFile.parse(bytes, path: "fuzz") {
                _ = try? file.modelConfig()
                _ = file.huggingFaceTensors()
                _ = try? BPETokenizer.fromGGUF(file, source: "fuzz")
            }
        }
    }

    /// Shards for the index target to point at: two small valid files.
    public static func prepareScratch(_ dir: String) {
        for (i, names) in [["a", "b"], ["c"]].enumerated() {
            let specs = names.map { TensorSpec(name: $0, dtype: .float32, shape: [2]) }
            try? SafetensorsWriter.write(path: joinPath(dir, "model-0000\(i + 1)-of-00002.safetensors"), tensors: specs, overwrite: true) { _, raw in
                raw.initializeMemory(as: UInt8.self, repeating: 0)
            }
        }
    }

    /// A byte-level BPE over a small vocabulary: all 256 bytes and a few merges.
    static let gpt2Tokenizer: BPETokenizer = {
        var tokens = (0..<256).map { String(ByteLevel.character(for: UInt8($0))) }
        let merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("a", "n"), ("Ġ", "a")]
        for (a, b) in merges { tokens.append(a + b) }
        tokens.append("<|endoftext|>")
        return try! BPETokenizer(tokens: tokens, merges: merges,
                                 addedTokens: [AddedToken(id: tokens.count - 1, content: "<|endoftext|>", special: true)], source: "fuzz")
    }()

    static func write(_ bytes: [UInt8], to path: String) throws {
        let w = try AtomicFileWriter(path: path, overwrite: true)
        try w.write(bytes)
        try w.commit()
    }
}
