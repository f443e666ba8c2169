// A GGUF file taken apart into its metadata and tensors, changed, and written again:
// how the hostile-input tests make a file that is well formed but says something wrong.

@testable import TensorLedger

struct GGUFEdit {
    var metadata: [(key: String, value: GGUFValue)]
    var tensors: [(plan: GGUFTensorPlan, data: [UInt8])]

    init(_ path: String) throws {
        let file = try GGUFFile.open(path)
        metadata = file.metadata
        tensors = file.tensors.map { t in
            (GGUFTensorPlan(name: t.name, dimensions: t.dimensions, type: t.type), Array(file.data(for: t)))
        }
    }

    subscript(key: String) -> GGUFValue? {
        get { metadata.first { $0.key == key }?.value }
        set {
            metadata.removeAll { $0.key == key }
            if let newValue { metadata.append((key, newValue)) }
        }
    }

    /// Replaces a tensor's dimensions (ggml order) and bytes.
    mutating func setTensor(_ name: String, dimensions: [Int], data: [UInt8]) {
        let i = tensors.firstIndex { $0.plan.name == name }!
        tensors[i].plan.dimensions = dimensions
        tensors[i].data = data
    }

    func write(to path: String) {
        var plans = tensors.map(\.plan)
        _ = GGUFWriter.layOut(&plans)
        var bytes = GGUFWriter.header(metadata: metadata.map { ($0.key, $0.value) }, tensors: plans)
        let start = bytes.count
        for (plan, t) in zip(plans, tensors) {
            bytes += [UInt8](repeating: 0, count: start + plan.offset - bytes.count)
            bytes += t.data
        }
        writeFile(path, bytes)
    }
}

/// A copy of a fixture model folder whose model.safetensors is rewritten by `edit`
/// (tensors in order, with their bytes), and whose other files can be replaced.
func editedModel(_ model: String, in dir: TemporaryDirectory, files: [String: String] = [:],
                 edit: (inout [(spec: TensorSpec, data: [UInt8])]) -> Void = { _ in }) throws -> String {
    let source = Fixtures.model(model)
    for name in ["config.json", "tokenizer.json", "tokenizer_config.json"] where fileExists(source + "/" + name) {
        copyFile(source + "/" + name, dir.file(name))
    }
    for (name, text) in files { writeFile(dir.file(name), Array(text.utf8)) }
    let file = try SafetensorsFile(path: source + "/model.safetensors")
    var tensors = file.tensors.map { (spec: TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape), data: Array(file.data(for: $0))) }
    edit(&tensors)
    let data = Dictionary(tensors.map { ($0.spec.name, $0.data) }, uniquingKeysWith: { a, _ in a })
    try SafetensorsWriter.write(path: dir.file("model.safetensors"), tensors: tensors.map(\.spec), overwrite: true) { spec, out in
        data[spec.name]!.withUnsafeBytes { out.copyMemory(from: $0) }
    }
    return dir.path
}

/// The text of a fixture file with `replacements` made (each must be found).
func editedText(_ path: String, _ replacements: [(String, String)]) throws -> String {
    var text = String(decoding: try readWholeFile(path), as: UTF8.self)
    for (old, new) in replacements {
        guard text.contains(old) else { throw FixtureError.notAnObject("\(path) has no \(old)") }
        text = text.replacing(old, with: new)
    }
    return text
}

extension CLIResult {
    /// One `error:` line on stderr and the exit status of malformed input, nothing on stdout.
    func isOneErrorLine(containing words: String, status expected: Int32 = 1) -> Bool {
        status == expected && stderr.hasPrefix("error: ") && stderr.filter { $0 == "\n" }.count == 1 && stderr.contains(words)
    }
}
