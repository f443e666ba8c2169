// Writing a .tlm file (docs/FORMAT.md): a preamble patched in at the end, the embedded
// files (config, chat template, tokenizer), each tensor as one aligned region (zstd over
// byte planes when that saves 5%; int8 planes stay raw so the runner can use them in
// place from a mapping), the compact tokenizer, then the JSON header.

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import TensorLedgerRuntime

final class TLMWriter: ConvertedModelWriter {
    private let file: AtomicFileWriter
    private let level: Int32?
    private let config: ModelConfig?
    private let source: String
    private var blobs: [TLMBlob]
    /// The tokenizer in the form that loads without string tables; building it takes a
    /// while for a large vocabulary, so it is made beside the tensors.
    private let compactTokenizer: BackgroundTask<[UInt8]>?

    /// Starts `path` with the preamble's place and the embedded files, named as they are
    /// stored (`config.json`, `tokenizer.json`, ...).
    init(path: String, overwrite: Bool, protecting inputs: [String], config: ModelConfig?, embedding files: [(name: String, bytes: [UInt8])],
         zstdLevel: Int32?, source: String) throws {
        let file = try AtomicFileWriter(path: path, overwrite: overwrite, protecting: inputs)
        var blobs: [TLMBlob] = []
        var tokenizerJSON: [UInt8]?
        do {
            try file.write([UInt8](repeating: 0, count: TLMFormat.preambleSize))
            for (name, bytes) in files {
                if name == "tokenizer.json" { tokenizerJSON = bytes }
                blobs.append(try bytes.withUnsafeBytes { try Self.writeRegion($0, name: name, width: 1, level: zstdLevel, to: file) })
            }
        } catch {
            file.abandon()
            throw error
        }
        self.file = file
        self.blobs = blobs
        level = zstdLevel
        self.config = config
        self.source = source
        compactTokenizer = tokenizerJSON.map { json in
            BackgroundTask {
                let tokenizer = try BPETokenizer.fromTokenizerJSON(json, source: "tokenizer.json of \(source)")
                if let config { try tokenizer.checkFits(config, source: "tokenizer.json of \(source)") }
                return tokenizer.compactBytes()
            }
        }
    }

    func write(_ item: ConversionItem, encoded: UnsafeRawBufferPointer) throws -> StoredTensor {
        let width = item.scheme.isQuantized ? 1 : item.scheme.storageDType.bitSize / 8
        let blob = try Self.writeRegion(encoded, name: item.source.name, width: width, level: item.scheme.isQuantized ? nil : level, to: file)
        return StoredTensor(offset: blob.offset, storedBytes: blob.storedBytes, encoding: blob.encoding, checksum: blob.checksum)
    }

    func finish(_ items: [ConversionItem]) throws -> Int {
        if let compactTokenizer {
            let bytes = try compactTokenizer.value()
            blobs.append(try bytes.withUnsafeBytes { try Self.writeRegion($0, name: "tokenizer.bpe", width: 1, level: level, to: file) })
        }
        let header = TLMHeader(createdBy: Converter.createdBy, source: source, config: config?.json ?? .null, tensors: items.map(\.entry), blobs: blobs)
        let headerBytes = Array(header.json.serialized(pretty: false).utf8)
        let headerOffset = file.offset
        try file.write(headerBytes)
        let preamble = TLMPreamble(version: TLMFormat.version, headerOffset: UInt64(headerOffset), headerLength: UInt64(headerBytes.count),
                                   headerChecksum: headerBytes.withUnsafeBytes { TLMFormat.checksum($0) },
                                   dataOffset: UInt64(TLMFormat.preambleSize), fileLength: UInt64(file.offset))
        try file.patch(preamble.encoded(), at: 0)
        let size = file.offset
        try file.commit()
        return size
    }

    func abandon() {
        // The tokenizer's thread reads only its own copy of the JSON; it may finish on its own.
        file.abandon()
    }

    /// Writes one aligned region, compressed when that saves at least 5%.
    static func writeRegion(_ bytes: UnsafeRawBufferPointer, name: String, width: Int, level: Int32?, to writer: AtomicFileWriter) throws -> TLMBlob {
        try writer.pad(toMultipleOf: TLMFormat.alignment)
        let offset = writer.offset - TLMFormat.preambleSize
        var encoding = TLMEncoding.raw
        var compressed: [UInt8]?
        if let level, bytes.count >= 256 {
            var src = bytes
            var planes: UnsafeMutableRawBufferPointer?
            if width > 1 {
                let p = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 64)
                BytePlanes.split(bytes, width: width, into: p)
                planes = p
                src = UnsafeRawBufferPointer(p)
            }
            defer { planes?.deallocate() }
            let c = try Zstd.compress(src, level: level)
            if c.count * 100 <= bytes.count * 95 {
                compressed = c
                encoding = width > 1 ? .zstdBytePlanes : .zstd
            }
        }
        let stored: Int
        let checksum: UInt64
        if let compressed {
            try writer.write(compressed)
            stored = compressed.count
            checksum = compressed.withUnsafeBytes { TLMFormat.checksum($0) }
        } else {
            try writer.write(bytes)
            stored = bytes.count
            checksum = TLMFormat.checksum(bytes)
        }
        return TLMBlob(name: name, offset: offset, storedBytes: stored, rawBytes: bytes.count, encoding: encoding, checksum: checksum)
    }
}
