// Writing safetensors files: the header as the official writer lays it out (JSON
// padded with spaces to a multiple of 8), then each tensor's bytes in header order.
// Used for synthetic checkpoints (SyntheticCheckpoint.swift) and test inputs.

import TensorLedgerCore

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
