// What `inspect` shows: the files, their headers and every tensor, read header-only.

import TensorLedgerCore

public struct InspectReport: Sendable {
    public struct FileEntry: Sendable {
        public var path: String
        public var bytes: Int
        public var headerBytes: Int
        public var tensors: Int

        package init(path: String, bytes: Int, headerBytes: Int, tensors: Int) {
            self.path = path
            self.bytes = bytes
            self.headerBytes = headerBytes
            self.tensors = tensors
        }
    }
    public struct TensorEntry: Sendable {
        public var info: TensorInfo
        /// Index into `files`.
        public var file: Int
        /// Absolute byte offset of the tensor's data in its file.
        public var offset: Int
        /// How a .tlm or GGUF file stores the tensor.
        public var stored: Storage?
        /// The element type as the format names it (a GGUF file's ggml type), when the dtype cannot say it.
        public var typeName: String?

        package init(info: TensorInfo, file: Int, offset: Int, stored: Storage? = nil, typeName: String? = nil) {
            self.info = info
            self.file = file
            self.offset = offset
            self.stored = stored
            self.typeName = typeName
        }
    }

    /// How a converted file holds a tensor: its scheme (a .tlm scheme or a ggml type), bytes,
    /// and what else the format records.
    public struct Storage: Sendable {
        public var scheme: String
        public var bytes: Int
        /// .tlm: rows transposed from a Conv1D [in, out] layout.
        public var transposed = false
        /// .tlm: raw, zstd or zstd-byte-planes.
        public var encoding: String?
        /// GGUF: the tensor's own name in the file, and its bits per weight.
        public var name: String?
        public var bitsPerWeight: Double?

        package var text: String {
            var parts = [name, scheme + (transposed ? " (T)" : "")].compactMap { $0 }
            if let bitsPerWeight { parts.append("\(formatFixed(bitsPerWeight, 2)) bits/weight") }
            if let encoding { parts.append(encoding) }
            return (parts + ["\(formatCount(bytes)) B"]).joined(separator: ", ")
        }

        package var json: JSONValue {
            var o = JSONObject(["scheme": .string(scheme), "bytes": .int(bytes)])
            if transposed { o["transposed"] = .bool(true) }
            if let encoding { o["encoding"] = .string(encoding) }
            if let name { o["name"] = .string(name) }
            if let bitsPerWeight { o["bits_per_weight"] = .double(bitsPerWeight) }
            return .object(o)
        }

        package init(scheme: String, bytes: Int, transposed: Bool = false, encoding: String? = nil, name: String? = nil, bitsPerWeight: Double? = nil) {
            self.scheme = scheme
            self.bytes = bytes
            self.transposed = transposed
            self.encoding = encoding
            self.name = name
            self.bitsPerWeight = bitsPerWeight
        }
    }

    /// One metadata entry: its value as JSON and as the text report shows it.
    public struct Metadata: Sendable {
        public var key: String
        public var value: JSONValue
        public var text: String
        public init(_ key: String, _ value: JSONValue, text: String? = nil) {
            self.key = key
            self.value = value
            self.text = text ?? value.string ?? value.serialized(pretty: false)
        }
    }

    public var source: String
    public var format: String
    public var files: [FileEntry]
    public var metadata: [Metadata]
    public var tensors: [TensorEntry]
    public var warnings: [String]

    public static let jsonSchema = "tensorledger.inspect/2"

    public init(source: String, format: String, files: [FileEntry], metadata: [Metadata], tensors: [TensorEntry], warnings: [String]) {
        self.source = source
        self.format = format
        self.files = files
        self.metadata = metadata
        self.tensors = tensors
        self.warnings = warnings
    }

    public init(checkpoint: Checkpoint) {
        let files = checkpoint.shards.map {
            FileEntry(path: $0.path, bytes: $0.fileSize, headerBytes: $0.header.headerLength, tensors: $0.tensors.count)
        }
        let tensors = checkpoint.tensors.map {
            TensorEntry(info: $0.info, file: $0.shard, offset: checkpoint.shards[$0.shard].header.dataStart + $0.info.dataOffsets.lowerBound)
        }
        let format = checkpoint.shards.count > 1 || checkpoint.path.hasSuffix(".json")
            ? "safetensors, sharded (\(checkpoint.shards.count) shards)" : "safetensors"
        self.init(source: checkpoint.path, format: format, files: files,
                  metadata: checkpoint.shards.flatMap(\.metadata).map { Metadata($0.key, .string($0.value)) }, tensors: tensors, warnings: checkpoint.warnings)
    }

    public var totalElements: Int { tensors.reduce(0) { $0 + $1.info.elementCount } }
    public var totalTensorBytes: Int { tensors.reduce(0) { $0 + $1.info.byteCount } }

    /// The report; the tensor table (in natural order: layer 2 before layer 10) unless
    /// `tensors` is false.
    public func textReport(tensors showTensors: Bool = true) -> String {
        var out: [String] = []
        out.append("\(source): \(format), \(formatCount(tensors.count)) tensors, \(formatCount(totalElements)) values, \(formatBytes(totalTensorBytes)) of tensor data")
        for f in files {
            out.append("  \(f.path): \(formatCount(f.bytes)) bytes, header \(formatCount(f.headerBytes)) bytes, \(f.tensors) tensors")
        }
        if !metadata.isEmpty {
            out.append("Metadata:")
            for m in metadata { out.append("  \(terminalSafe(m.key)) = \(terminalSafe(m.text))") }
        }
        guard showTensors else { return out.joined(separator: "\n") }
        out.append("")
        let hasNotes = tensors.contains { $0.stored != nil }
        var headers = ["Tensor", "DType", "Shape", "Values", "Offset"]
        var align: [TextTable.Alignment] = [.left, .left, .left, .right, .right]
        if files.count > 1 { headers.append("Shard"); align.append(.right) }
        if hasNotes { headers.append("Stored as"); align.append(.left) }
        var table = TextTable(headers: headers, alignments: align)
        for t in tensors.sorted(by: { naturallyPrecedes($0.info.name, $1.info.name) }) {
            var row = [t.info.name, t.typeName ?? t.info.dtype.rawValue, t.info.shapeDescription, formatCount(t.info.elementCount), formatCount(t.offset)]
            if files.count > 1 { row.append(String(t.file + 1)) }
            if hasNotes { row.append(t.stored?.text ?? "") }
            table.add(row)
        }
        out.append(table.render())
        return out.joined(separator: "\n")
    }

    public var json: JSONValue {
        .object(JSONObject([
            "schema": .string(InspectReport.jsonSchema),
            "source": .string(source),
            "format": .string(format),
            "files": .array(files.map { f in
                .object(JSONObject(["path": .string(f.path), "bytes": .int(f.bytes), "header_bytes": .int(f.headerBytes), "tensors": .int(f.tensors)]))
            }),
            "metadata": .object(JSONObject(uniqueKeysWithValues: metadata.map { ($0.key, $0.value) })),
            "tensors": .array(tensors.map { t in
                var o = t.info.json.object!
                o["file"] = .int(t.file)
                o["offset"] = .int(t.offset)
                if let s = t.stored { o["stored"] = s.json }
                if let name = t.typeName { o["type"] = .string(name) }
                return .object(o)
            }),
            "total_values": .int(totalElements),
            "total_tensor_bytes": .int(totalTensorBytes),
            "warnings": .array(warnings.map { .string($0) }),
        ]))
    }
}

extension InspectReport {
    public init(tlm: TLMFile) {
        let h = tlm.header
        var metadata = [Metadata("created_by", .string(h.createdBy)), Metadata("source", .string(h.source))]
        for b in h.blobs {
            metadata.append(Metadata("embedded " + b.name, .object(JSONObject(["bytes": .int(b.rawBytes), "stored_bytes": .int(b.storedBytes),
                                                                               "encoding": .string(b.encoding.rawValue)])),
                                     text: "\(formatCount(b.rawBytes)) bytes, stored \(b.encoding.rawValue)"))
        }
        let tensors = h.tensors.map { t in
            TensorEntry(info: TensorInfo(name: t.name, dtype: t.scheme.storageDType, shape: t.shape,
                                         dataOffsets: t.offset..<(t.offset + t.storedBytes)),
                        file: 0, offset: tlm.dataOffset + t.offset,
                        stored: Storage(scheme: t.scheme.rawValue, bytes: t.storedBytes, transposed: t.transposed, encoding: t.encoding.rawValue))
        }
        self.init(source: tlm.path, format: ".tlm version \(TLMFormat.version)",
                  files: [FileEntry(path: tlm.path, bytes: tlm.fileSize, headerBytes: tlm.headerLength, tensors: h.tensors.count)],
                  metadata: metadata, tensors: tensors, warnings: [])
    }
}
