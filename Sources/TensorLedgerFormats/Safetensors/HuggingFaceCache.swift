// A Hugging Face hub cache folder (~/.cache/huggingface/hub/models--org--name) holds
// every downloaded revision under snapshots/<commit>; refs/main names the current one.
// Given such a folder, commands read its current snapshot, as `from_pretrained` does.

import TensorLedgerCore

public enum HuggingFaceCache {
    /// The snapshot `path` stands for, or `path` itself when it is no cache folder.
    public static func resolve(_ path: String) -> String {
        var folder = path
        while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
        guard lastPathComponent(folder).hasPrefix("models--"), pathKind(joinPath(folder, "snapshots")) == .directory else { return path }
        // refs/main is a file anyone can write: only a plain commit hash is followed.
        if let ref = try? readWholeFile(joinPath(folder, "refs/main"), limit: 256) {
            let commit = String(decoding: ref, as: UTF8.self).filter { !$0.isWhitespace }
            if (1...64).contains(commit.count), commit.allSatisfy({ $0.isHexDigit }) {
                let snapshot = joinPath(folder, "snapshots/" + commit)
                if pathKind(snapshot) == .directory { return snapshot }
            }
        }
        // No usable ref: one snapshot is unambiguous.
        if let entries = try? directoryEntries(joinPath(folder, "snapshots")), entries.count == 1 {
            return joinPath(folder, "snapshots/" + entries[0])
        }
        return path
    }
}

extension HuggingFaceCache {
    /// The model's name when `directory` is a snapshot of a hub cache folder
    /// (…/models--org--name/snapshots/<commit> is "name"), else nil.
    public static func modelName(ofSnapshot directory: String) -> String? {
        let parts = directory.split(separator: "/")
        guard parts.count >= 3, parts[parts.count - 2] == "snapshots", parts[parts.count - 3].hasPrefix("models--") else { return nil }
        let name = parts[parts.count - 3].split(separator: "--", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        return name.isEmpty ? nil : name
    }
}
