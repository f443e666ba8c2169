// Opening whatever a user names (a safetensors file, a sharded index, a directory or
// a .tlm file) for the header-only commands.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ModelSource {
    /// True when the path names a .tlm file (by its magic, whatever its extension).
    public static func isTLM(_ path: String) -> Bool { magic(path) == TLMFormat.magic }

    /// True when the path names a GGUF file (by its magic).
    public static func isGGUF(_ path: String) -> Bool { magic(path) == Array("GGUF".utf8) }

    private static func magic(_ path: String) -> [UInt8]? {
        guard let (fd, size) = try? openRegularFile(path) else { return nil }
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 4)
        return size >= 4 && pread(fd, &magic, 4, 0) == 4 ? magic : nil
    }

    /// The inspect report of any supported model file.
    public static func inspect(_ path: String) throws -> InspectReport {
        if isGGUF(path) { return InspectReport(gguf: try GGUFFile.open(path)) }
        if isTLM(path) { return InspectReport(tlm: try TLMFile(path: path)) }
        return InspectReport(checkpoint: try Checkpoint.open(path))
    }

    /// The tensors of any supported model file as its source checkpoint had them (a .tlm
    /// file's with their source shapes and stored bytes), its configuration (config.json
    /// beside the weights, or the .tlm header's), and the warnings met while opening it.
    public static func tensors(_ path: String) throws -> (tensors: [TensorInfo], config: ModelConfig?, source: String, warnings: [String]) {
        if isGGUF(path) {
            let file = try GGUFFile.open(path)
            return (file.huggingFaceTensors(parametersOnly: true).map(\.info), try file.modelConfig(), path, [])
        }
        if isTLM(path) {
            let tlm = try TLMFile(path: path)
            let tensors = tlm.tensors.map { t in
                TensorInfo(name: t.name, dtype: t.scheme.storageDType, shape: t.transposed ? t.shape.reversed() : t.shape,
                           dataOffsets: t.offset..<(t.offset + t.storedBytes))
            }
            return (tensors, tlm.header.config, path, [])
        }
        let checkpoint = try Checkpoint.open(path)
        let config = try checkpoint.sidecar("config.json").map { try ModelConfig.load($0) }
        return (checkpoint.tensors.map(\.info), config, checkpoint.path, checkpoint.warnings)
    }

    /// The ledger of any supported model file, and the warnings met while opening it.
    public static func ledger(_ path: String) throws -> (Ledger, [String]) {
        if isGGUF(path) {
            let file = try GGUFFile.open(path)
            let mapped = file.huggingFaceTensors(parametersOnly: true)
            let names = Dictionary(mapped.map { ($0.info.name, $0.gguf.type.name) }, uniquingKeysWith: { a, _ in a })
            return (Ledger(tensors: mapped.map(\.info), config: try file.modelConfig(), source: path, typeNames: names), [])
        }
        let t = try tensors(path)
        return (Ledger(tensors: t.tensors, config: t.config, source: t.source), t.warnings)
    }
}

extension InspectReport {
    public init(tlm: TLMFile) {
        let h = tlm.header
        var metadata: [(key: String, value: String)] = [("created_by", h.createdBy), ("source", h.source)]
        for b in h.blobs { metadata.append(("embedded \(b.name)", "\(formatCount(b.rawBytes)) bytes, stored \(b.encoding.rawValue)")) }
        let tensors = h.tensors.map { t in
            TensorEntry(info: TensorInfo(name: t.name, dtype: t.scheme.storageDType, shape: t.shape,
                                         dataOffsets: t.offset..<(t.offset + t.storedBytes)),
                        file: 0, offset: tlm.dataOffset + t.offset,
                        notes: "\(t.scheme.rawValue)\(t.transposed ? " (T)" : ""), \(t.encoding.rawValue), \(formatCount(t.storedBytes)) B")
        }
        self.init(source: tlm.path, format: ".tlm version \(TLMFormat.version)",
                  files: [FileEntry(path: tlm.path, bytes: tlm.fileSize, headerBytes: tlm.headerLength, tensors: h.tensors.count)],
                  metadata: metadata, tensors: tensors, warnings: [])
    }
}

extension InspectReport {
    /// A GGUF file: its metadata (long arrays summarized), and every tensor with its ggml
    /// type, bits per weight and bytes, under the name and shape Hugging Face gives it.
    public init(gguf: GGUFFile) {
        var metadata = gguf.metadata.map { (key: $0.key, value: $0.value.summary) }
        var mix: [String: (tensors: Int, bytes: Int)] = [:]
        for t in gguf.tensors { mix[t.type.name, default: (0, 0)].tensors += 1; mix[t.type.name]!.bytes += t.byteCount }
        metadata.append(("quantization mix", mix.sorted { $0.value.bytes > $1.value.bytes }
            .map { "\($0.key) \($0.value.tensors) tensors, \(formatBytes($0.value.bytes))" }.joined(separator: "; ")))
        let tensors = gguf.huggingFaceTensors().map { m in
            TensorEntry(info: m.info, file: 0, offset: gguf.dataStart + m.gguf.offset,
                        notes: "\(m.gguf.name), \(formatFixed(m.gguf.type.bitsPerWeight, 2)) bits/weight, \(formatCount(m.gguf.byteCount)) B",
                        typeName: m.gguf.type.name)
        }
        self.init(source: gguf.path, format: "GGUF version \(gguf.version), alignment \(gguf.alignment)",
                  files: [FileEntry(path: gguf.path, bytes: gguf.fileSize, headerBytes: min(gguf.dataStart, gguf.fileSize), tensors: gguf.tensors.count)],
                  metadata: metadata, tensors: tensors, warnings: [])
    }
}
