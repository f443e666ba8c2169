// A checkpoint: one safetensors file, or a sharded set described by
// `model.safetensors.index.json`, opened header-only.
//
// The index is a promise the Python loaders never check: they trust `weight_map` and
// ignore `metadata.total_size`. Here every shard is opened and its header validated,
// and the map and the shards must agree. What makes loading ambiguous is an error (a
// missing shard, a mapped tensor absent from its shard, one tensor in two shards); what
// leaves it well defined is a warning (a `total_size` that disagrees, a tensor in a
// shard the map does not name, which loaders ignore and so do we).

import TensorLedgerCore

public enum CheckpointError: TensorLedgerError, Equatable {
    case invalidIndex(file: String, reason: String)
    case shardMissing(index: String, shard: String)
    case tensorMissingFromShard(index: String, tensor: String, shard: String, foundIn: String?)
    case tensorInTwoShards(tensor: String, first: String, second: String)
    case noWeights(directory: String)
    case onlyPyTorchWeights(directory: String, files: [String])
    case ambiguousDirectory(directory: String, files: [String])
    case notConvertible(file: String, found: SniffedFormat)

    public var category: ErrorCategory {
        switch self {
        case .shardMissing, .noWeights: return .missingFile
        default: return .badInput
        }
    }

    public var description: String {
        switch self {
        case .invalidIndex(let f, let r): return "\(f): not a valid safetensors index: \(r)"
        case .shardMissing(let i, let s): return "\(i): shard \"\(s)\" named in weight_map does not exist"
        case .tensorMissingFromShard(let i, let t, let s, let found):
            let elsewhere = found.map { " (it is in \($0))" } ?? ""
            return "\(i): weight_map puts \"\(t)\" in \(s), but that shard has no such tensor\(elsewhere)"
        case .tensorInTwoShards(let t, let a, let b): return "tensor \"\(t)\" is in two shards: \(a) and \(b)"
        case .noWeights(let d): return "\(d): no model.safetensors, index or other .safetensors file in this directory"
        case .onlyPyTorchWeights(let d, let files):
            return "\(d): the weights here are PyTorch files (\(files.prefix(3).joined(separator: ", "))\(files.count > 3 ? ", …" : "")); convert them to safetensors first"
        case .ambiguousDirectory(let d, let files):
            return "\(d): several .safetensors files (\(files.joined(separator: ", "))) and no model.safetensors.index.json to say how they fit together"
        case .notConvertible(let f, let found):
            return "\(f): convert reads safetensors checkpoints and GGUF files, and this is \(found.rawValue); run, next, trace, chat, inspect, ledger, plan and diff read it as it is"
        }
    }
}

/// One tensor of a checkpoint and the shard that holds it.
public struct CheckpointTensor: Sendable {
    public var info: TensorInfo
    public var shard: Int
    public var name: String { info.name }

    package init(info: TensorInfo, shard: Int) {
        self.info = info
        self.shard = shard
    }
}

public final class Checkpoint: @unchecked Sendable {
    public static let indexFileName = "model.safetensors.index.json"

    /// The directory holding the weights (and maybe config.json, tokenizer.json).
    public let directory: String
    /// The path that was opened: a .safetensors file or an index.
    public let path: String
    public let shards: [SafetensorsFile]
    /// Every tensor, shard by shard, each shard in data order.
    public let tensors: [CheckpointTensor]
    public let warnings: [String]
    /// `metadata.total_size` of the index, if there is one.
    public let declaredTotalSize: Int?

    private let indexByName: [String: Int]

    private init(directory: String, path: String, shards: [SafetensorsFile], tensors: [CheckpointTensor], warnings: [String], declaredTotalSize: Int?) {
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.indexByName = index
        self.directory = directory
        self.path = path
        self.shards = shards
        self.tensors = tensors
        self.warnings = warnings
        self.declaredTotalSize = declaredTotalSize
    }

    /// Opens a .safetensors file, an index, or a directory holding either.
    public static func open(_ path: String) throws -> Checkpoint {
        let path = HuggingFaceCache.resolve(path)
        switch pathKind(path) {
        case .missing, .brokenLink: throw pathError(path)
        case .directory: return try openDirectory(path)
        case .file, .other:
            if path.hasSuffix(".json") { return try openIndex(path) }
            let file = try SafetensorsFile(path: path)
            let tensors = file.tensors.map { CheckpointTensor(info: $0, shard: 0) }
            return Checkpoint(directory: parentDirectory(path), path: path, shards: [file], tensors: tensors, warnings: file.warnings, declaredTotalSize: nil)
        }
    }

    /// Opens a checkpoint for `convert` (which takes GGUF files before they come here): a
    /// .tlm file gets an error saying it is already converted rather than "not a safetensors file".
    public static func openForConversion(_ path: String) throws -> Checkpoint {
        do { return try open(path) } catch SafetensorsError.notSafetensors(let file, let found) where found == .tlm {
            throw CheckpointError.notConvertible(file: file, found: found)
        }
    }

    private static func openDirectory(_ dir: String) throws -> Checkpoint {
        let entries = try directoryEntries(dir)
        if entries.contains(indexFileName) { return try openIndex(joinPath(dir, indexFileName)) }
        if entries.contains("model.safetensors") { return try open(joinPath(dir, "model.safetensors")) }
        let candidates = entries.filter { $0.hasSuffix(".safetensors") }
        if candidates.count == 1 { return try open(joinPath(dir, candidates[0])) }
        if candidates.isEmpty {
            let pytorch = entries.filter { [".bin", ".pt", ".pth"].contains(where: $0.hasSuffix) }
            throw pytorch.isEmpty ? CheckpointError.noWeights(directory: dir) : CheckpointError.onlyPyTorchWeights(directory: dir, files: pytorch)
        }
        throw CheckpointError.ambiguousDirectory(directory: dir, files: candidates)
    }

    private static func openIndex(_ indexPath: String) throws -> Checkpoint {
        let dir = parentDirectory(indexPath)
        let bytes = try readWholeFile(indexPath, limit: 256 << 20)
        let root: JSONValue
        do { root = try JSON.parse(bytes) } catch {
            throw CheckpointError.invalidIndex(file: indexPath, reason: error.description)
        }
        guard let object = root.object else {
            throw CheckpointError.invalidIndex(file: indexPath, reason: "top level must be an object, found \(root.kindDescription)")
        }
        guard let map = object["weight_map"]?.object else {
            // A config.json or tokenizer.json given where the weights were meant.
            if let found = bytes.withUnsafeBytes({ SniffedFormat.sniff($0) }), found == .configJSON || found == .tokenizerJSON {
                throw SafetensorsError.notSafetensors(file: indexPath, found: found)
            }
            throw CheckpointError.invalidIndex(file: indexPath, reason: "missing \"weight_map\" object")
        }
        var declaredTotal: Int?
        if let meta = object["metadata"] {
            guard let m = meta.object else {
                throw CheckpointError.invalidIndex(file: indexPath, reason: "\"metadata\" must be an object, found \(meta.kindDescription)")
            }
            if let total = m["total_size"] {
                guard case .int(let t) = total, t >= 0 else {
                    throw CheckpointError.invalidIndex(file: indexPath, reason: "metadata.total_size must be a non-negative integer, found \(total.kindDescription)")
                }
                declaredTotal = t
            }
        }

        // Shards in order of first appearance in the map.
        var shardNames: [String] = []
        var knownShards = Set<String>()
        var shardOf: [String: String] = [:]
        for (tensor, value) in map.pairs {
            guard let shard = value.string else {
                throw CheckpointError.invalidIndex(file: indexPath, reason: "weight_map[\"\(tensor)\"] must be a shard file name, found \(value.kindDescription)")
            }
            // A shard is a file beside the index, never a path that climbs out of it.
            guard !shard.isEmpty, !shard.contains("/"), shard != "..", shard != "." else {
                throw CheckpointError.invalidIndex(file: indexPath, reason: "weight_map[\"\(tensor)\"] = \"\(shard)\" is not a plain file name in the index's directory")
            }
            if knownShards.insert(shard).inserted { shardNames.append(shard) }
            shardOf[tensor] = shard
        }

        var shards: [SafetensorsFile] = []
        var tensors: [CheckpointTensor] = []
        var warnings: [String] = []
        var seenIn: [String: String] = [:]
        var mappedBytes = 0
        for (i, shardName) in shardNames.enumerated() {
            let shardPath = joinPath(dir, shardName)
            guard pathKind(shardPath) != .missing else {
                throw CheckpointError.shardMissing(index: indexPath, shard: shardName)
            }
            let file = try SafetensorsFile(path: shardPath)
            shards.append(file)
            warnings += file.warnings
            for t in file.tensors {
                if let other = seenIn[t.name] {
                    throw CheckpointError.tensorInTwoShards(tensor: t.name, first: other, second: shardName)
                }
                seenIn[t.name] = shardName
                guard let mapped = shardOf[t.name] else {
                    warnings.append("\(shardPath): tensor \"\(t.name)\" is not in the index's weight_map; ignored, as loaders ignore it")
                    continue
                }
                guard mapped == shardName else { continue }  // checked when its own shard is read
                tensors.append(CheckpointTensor(info: t, shard: i))
                mappedBytes += t.byteCount
            }
        }
        for (tensor, shard) in map.pairs {
            let shardName = shard.string!
            if seenIn[tensor] != shardName {
                throw CheckpointError.tensorMissingFromShard(index: indexPath, tensor: tensor, shard: shardName, foundIn: seenIn[tensor])
            }
        }
        if let declaredTotal, declaredTotal != mappedBytes {
            warnings.append("\(indexPath): metadata.total_size says \(declaredTotal) bytes but the mapped tensors hold \(mappedBytes)")
        }
        return Checkpoint(directory: dir, path: indexPath, shards: shards, tensors: tensors, warnings: warnings, declaredTotalSize: declaredTotal)
    }

    public func data(for tensor: CheckpointTensor) -> UnsafeRawBufferPointer {
        shards[tensor.shard].data(for: tensor.info)
    }

    public func tensor(named name: String) -> CheckpointTensor? {
        indexByName[name].map { tensors[$0] }
    }

    /// The files beside the weights that a conversion reads and a .tlm file embeds.
    public static let tokenizerConfigName = "tokenizer_config.json"
    public static let chatTemplateName = "chat_template.jinja"
    public static let sidecarNames = ["config.json", tokenizerConfigName, chatTemplateName, "tokenizer.json"]

    /// Every file a conversion of this checkpoint reads: none of them may be its output.
    public var inputPaths: [String] {
        [path] + shards.map(\.path) + Checkpoint.sidecarNames.compactMap { sidecar($0) }
    }

    /// Path of a file beside the weights (config.json, tokenizer.json), if it exists.
    public func sidecar(_ name: String) -> String? {
        let p = joinPath(directory, name)
        // Anything there but a file (a broken link, a directory) is returned, so that reading
        // it is an error: an optional file that cannot be read is not an absent one.
        return pathKind(p) == .missing ? nil : p
    }

    /// Drops a tensor's pages from this process's memory once it has been used
    /// (the page cache keeps them); conversion so stays near one tensor of memory.
    public func releasePages(of tensor: CheckpointTensor, bytes: Range<Int>? = nil) {
        shards[tensor.shard].releasePages(of: tensor.info, bytes: bytes)
    }
}
