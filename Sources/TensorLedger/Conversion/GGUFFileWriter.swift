// The GGUF side of the writer seam (ConvertedModelWriter): the header laid out by
// GGUFWriter, then each encoded tensor at its aligned offset.

/// A GGUF file written front to back: the header first, then each tensor at its aligned
/// offset. The header may still be in the making when the writer starts (it holds the
/// vocabulary); the first tensor waits for it.
import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels
import TensorLedgerRuntime

final class GGUFFileWriter: ConvertedModelWriter {
    private let file: AtomicFileWriter
    private var header: BackgroundTask<[UInt8]>?
    private let leading: [[Float]]
    private var dataStart = 0

    /// Opens a temporary file for `path`; `header` is written first, then the tensors made by
    /// the conversion itself (values in f32, such as llama3's rope_freqs), which come first in
    /// the header's table.
    init(path: String, overwrite: Bool, protecting inputs: [String], header: BackgroundTask<[UInt8]>, leading: [[Float]]) throws {
        file = try AtomicFileWriter(path: path, overwrite: overwrite, protecting: inputs)
        self.header = header
        self.leading = leading
    }

    private func writeHeader() throws {
        guard let header else { return }
        self.header = nil
        let bytes = try header.value()
        dataStart = bytes.count
        try file.write(bytes)
        for values in leading {
            try file.pad(toMultipleOf: GGUFWriter.alignment)
            try values.withUnsafeBytes { try file.write($0) }
        }
    }

    func write(_ item: ConversionItem, encoded: UnsafeRawBufferPointer) throws -> StoredTensor {
        try writeHeader()
        if !item.continuesPrevious { try file.pad(toMultipleOf: GGUFWriter.alignment) }
        let offset = file.offset - dataStart
        try file.write(encoded)
        return StoredTensor(offset: offset, storedBytes: encoded.count, encoding: .raw, checksum: 0)
    }

    func finish(_ items: [ConversionItem]) throws -> Int {
        try writeHeader()
        let size = file.offset
        try file.commit()
        return size
    }

    func abandon() { file.abandon() }
}
