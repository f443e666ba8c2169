// Opening whatever a user names (a safetensors file, a sharded index, a directory, a
// .tlm file or a GGUF file) once, and asking it what every command needs.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Any model file a command takes, opened once: its kind is sniffed from its first bytes
/// (a .tlm or GGUF file by its magic, whatever its name; anything else is a safetensors
/// file, index or directory), and every kind answers the same questions: its tensors as
/// the source checkpoint had them, its configuration, its tokenizer and chat settings, its
/// weights for the runner, its inspect report.
public enum ModelFile {
    case checkpoint(Checkpoint)
    case tlm(TLMFile)
    case gguf(GGUFFile)

    public enum Kind: Sendable { case tlm, gguf }

    /// A .tlm or GGUF file, known by its magic whatever its name; nil for anything else
    /// (a checkpoint, a directory, a missing path).
    public static func kind(of path: String) -> Kind? {
        switch ModelSource.magic(path) {
        case TLMFormat.magic?: return .tlm
        case GGUFFile.magic?: return .gguf
        default: return nil
        }
    }

    public static func open(_ path: String) throws -> ModelFile {
        switch kind(of: path) {
        case .tlm?: return .tlm(try TLMFile(path: path))
        case .gguf?: return .gguf(try GGUFFile.open(path))
        case nil: return .checkpoint(try Checkpoint.open(path))
        }
    }

    /// The file (or the index) the model was opened from.
    public var path: String {
        switch self {
        case .checkpoint(let c): return c.path
        case .tlm(let t): return t.path
        case .gguf(let g): return g.path
        }
    }

    /// Names, dtypes, shapes and byte ranges as the source checkpoint had them: a .tlm file's
    /// matrices in their source orientation, a GGUF file's under Hugging Face's names.
    public var tensors: [TensorInfo] {
        switch self {
        case .checkpoint(let c): return c.tensors.map(\.info)
        case .tlm(let t):
            return t.tensors.map { e in
                TensorInfo(name: e.name, dtype: e.scheme.storageDType, shape: e.transposed ? e.shape.reversed() : e.shape,
                           dataOffsets: e.offset..<(e.offset + e.storedBytes))
            }
        case .gguf(let g): return g.huggingFaceTensors(parametersOnly: true).map(\.info)
        }
    }

    /// Element types the dtype cannot name (a GGUF file's quantized types), by tensor.
    public var typeNames: [String: String] {
        guard case .gguf(let g) = self else { return [:] }
        return Dictionary(g.huggingFaceTensors(parametersOnly: true).map { ($0.info.name, $0.gguf.type.name) }, uniquingKeysWith: { a, _ in a })
    }

    /// config.json beside the weights, the .tlm header's copy, or a GGUF file's metadata.
    public func config() throws -> ModelConfig? {
        switch self {
        case .checkpoint(let c): return try c.sidecar("config.json").map { try ModelConfig.load($0) }
        case .tlm(let t): return try t.modelConfig()
        case .gguf(let g): return try g.modelConfig()
        }
    }

    public var warnings: [String] {
        if case .checkpoint(let c) = self { return c.warnings }
        return []
    }


    /// The chat template and the BOS/EOS names: tokenizer_config.json and chat_template.jinja
    /// beside the weights or embedded in the .tlm file, or a GGUF file's keys.
    public func tokenizerConfig() throws -> TokenizerConfig {
        let (configFile, templateFile) = (TokenizerConfig.configFile, TokenizerConfig.templateFile)
        switch self {
        case .checkpoint(let c):
            return try TokenizerConfig(configJSON: try c.sidecar(configFile).map { try readWholeFile($0, limit: 16 << 20) },
                                       templateFile: try c.sidecar(templateFile).map { try readWholeFile($0, limit: 16 << 20) },
                                       source: c.directory)
        case .tlm(let t):
            let names = Set(t.header.blobs.map(\.name))
            return try TokenizerConfig(configJSON: names.contains(configFile) ? try t.blob(named: configFile) : nil,
                                       templateFile: names.contains(templateFile) ? try t.blob(named: templateFile) : nil, source: t.path)
        case .gguf(let g):
            let tokens = g.strings(GGUFKey.Tokenizer.tokens.key) ?? []
            func token(_ key: GGUFKey.Tokenizer) -> String? {
                guard let id = g.value(key.key)?.int, tokens.indices.contains(id) else { return nil }
                // Byte-level vocabularies spell special tokens in their own characters too.
                return g.string(GGUFKey.Tokenizer.model.key) == "gpt2" ? String(decoding: ByteLevel.decode(tokens[id]), as: UTF8.self) : tokens[id]
            }
            return TokenizerConfig(chatTemplate: g.string(GGUFKey.chatTemplate), bosToken: token(.bosTokenID), eosToken: token(.eosTokenID))
        }
    }

    /// The tokenizer the model carries or has beside it.
    public func tokenizer() throws -> BPETokenizer {
        switch self {
        case .checkpoint(let c): return try BPETokenizer.load(try TokenizerSource.tokenizerJSON(inDirectory: c.directory))
        case .tlm(let t): return try BPETokenizer.embedded(in: t)
        case .gguf(let g): return try BPETokenizer.fromGGUF(g, source: g.path)
        }
    }

    public func inspect() -> InspectReport {
        switch self {
        case .checkpoint(let c): return InspectReport(checkpoint: c)
        case .tlm(let t): return InspectReport(tlm: t)
        case .gguf(let g): return InspectReport(gguf: g)
        }
    }
}

/// The header-only commands' questions, asked of any model file.
public enum ModelSource {
    /// True when the path names a .tlm file (by its magic, whatever its extension).
    public static func isTLM(_ path: String) -> Bool { ModelFile.kind(of: path) == .tlm }

    /// True when the path names a GGUF file (by its magic).
    public static func isGGUF(_ path: String) -> Bool { ModelFile.kind(of: path) == .gguf }

    /// A regular file's first four bytes.
    package static func magic(_ path: String) -> [UInt8]? {
        guard let (fd, size) = try? openRegularFile(path) else { return nil }
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 4)
        return size >= 4 && pread(fd, &magic, 4, 0) == 4 ? magic : nil
    }

    /// The inspect report of any supported model file.
    public static func inspect(_ path: String) throws -> InspectReport { try ModelFile.open(path).inspect() }

    /// The tensors of any supported model file as its source checkpoint had them, its
    /// configuration, and the warnings met while opening it.
    public static func tensors(_ path: String) throws -> (tensors: [TensorInfo], config: ModelConfig?, source: String, warnings: [String]) {
        let file = try ModelFile.open(path)
        return (file.tensors, try file.config(), file.path, file.warnings)
    }

    /// The ledger of any supported model file, and the warnings met while opening it.
    public static func ledger(_ path: String) throws -> (Ledger, [String]) {
        let file = try ModelFile.open(path)
        return (Ledger(tensors: file.tensors, config: try file.config(), source: file.path, typeNames: file.typeNames), file.warnings)
    }
}

extension InspectReport {
    /// A GGUF file: its metadata (long arrays summarized), and every tensor with its ggml
    /// type, bits per weight and bytes, under the name and shape Hugging Face gives it.
    public init(gguf: GGUFFile) {
        var metadata = gguf.metadata.map { Metadata($0.key, $0.value.json, text: $0.value.summary) }
        var mix: [String: (tensors: Int, bytes: Int)] = [:]
        for t in gguf.tensors { mix[t.type.name, default: (0, 0)].tensors += 1; mix[t.type.name]!.bytes += t.byteCount }
        let ordered = mix.sorted { $0.value.bytes > $1.value.bytes }
        metadata.append(Metadata("quantization mix",
                                 .object(JSONObject(uniqueKeysWithValues: ordered.map { ($0.key, .object(JSONObject(["tensors": .int($0.value.tensors), "bytes": .int($0.value.bytes)]))) })),
                                 text: ordered.map { "\($0.key) \($0.value.tensors) tensors, \(formatBytes($0.value.bytes))" }.joined(separator: "; ")))
        let tensors = gguf.huggingFaceTensors().map { m in
            TensorEntry(info: m.info, file: 0, offset: gguf.dataStart + m.gguf.offset,
                        stored: Storage(scheme: m.gguf.type.name, bytes: m.gguf.byteCount, name: m.gguf.name, bitsPerWeight: m.gguf.type.bitsPerWeight),
                        typeName: m.gguf.type.name)
        }
        self.init(source: gguf.path, format: "GGUF version \(gguf.version), alignment \(gguf.alignment)",
                  files: [FileEntry(path: gguf.path, bytes: gguf.fileSize, headerBytes: min(gguf.dataStart, gguf.fileSize), tensors: gguf.tensors.count)],
                  metadata: metadata, tensors: tensors, warnings: [])
    }
}

extension TokenizerSource {
    public static func load(_ path: String) throws -> BPETokenizer {
        let path = HuggingFaceCache.resolve(path)
        if pathKind(path) == .directory { return try BPETokenizer.load(try tokenizerJSON(inDirectory: path)) }
        // A .tlm or GGUF file carries its tokenizer (ModelFile knows them by their magic);
        // any other file is a tokenizer.json.
        if ModelFile.kind(of: path) != nil { return try ModelFile.open(path).tokenizer() }
        return try BPETokenizer.load(path)
    }
}

extension TokenizerConfig {
    /// The configuration of the model at `path`: a GGUF file's tokenizer.chat_template and
    /// BOS/EOS ids, the files embedded in a .tlm file, or the files beside a checkpoint. A
    /// model without them has an empty configuration.
    public static func load(forModel path: String) throws -> TokenizerConfig {
        try ModelFile.open(path).tokenizerConfig()
    }
}
