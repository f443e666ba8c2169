// Opening whatever a user names (a safetensors file, a sharded index, a directory or
// a .tlm file) for the header-only commands.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ModelSource {
    /// True when the path names a .tlm file (by its magic, whatever its extension).
    public static func isTLM(_ path: String) -> Bool {
        guard let (fd, size) = try? openRegularFile(path) else { return false }
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 4)
        return size >= 4 && pread(fd, &magic, 4, 0) == 4 && magic == TLMFormat.magic
    }

    /// The inspect report of any supported model file.
    public static func inspect(_ path: String) throws -> InspectReport {
        if isTLM(path) { return InspectReport(tlm: try TLMFile(path: path)) }
        return InspectReport(checkpoint: try Checkpoint.open(path))
    }

    /// The tensors of any supported model file as its source checkpoint had them (a .tlm
    /// file's with their source shapes and stored bytes), its configuration (config.json
    /// beside the weights, or the .tlm header's), and the warnings met while opening it.
    public static func tensors(_ path: String) throws -> (tensors: [TensorInfo], config: ModelConfig?, source: String, warnings: [String]) {
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
