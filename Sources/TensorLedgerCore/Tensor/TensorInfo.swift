// One tensor's entry in a header: its name, element type, shape and where its bytes are.

public struct TensorInfo: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    /// Byte range relative to the start of the file's data section.
    public var dataOffsets: Range<Int>

    public init(name: String, dtype: DType, shape: [Int], dataOffsets: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
    }

    /// Number of elements; validated headers guarantee it does not overflow.
    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { dataOffsets.count }
    public var rank: Int { shape.count }

    public var shapeDescription: String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}

extension TensorInfo: JSONRepresentable {
    public var json: JSONValue {
        .object(JSONObject([
            "name": .string(name),
            "dtype": .string(dtype.rawValue),
            "shape": .array(shape.map { .int($0) }),
            "data_offsets": .array([.int(dataOffsets.lowerBound), .int(dataOffsets.upperBound)]),
            "parameters": .int(elementCount),
        ]))
    }
}
