// The library's layers import only downwards. SwiftPM refuses an import of a layer that
// depends on the importer (a cycle), but not one of a sibling it happens to build first;
// this test reads every import, so a wrong one fails here whatever the build order.

import Testing
import TensorLedger

@Suite struct LayerTests {
    /// Bottom to top; each may import those before it.
    static let layers = ["TensorLedgerCore", "TensorLedgerFormats", "TensorLedgerTokenizer", "TensorLedgerModels",
                         "TensorLedgerRuntime", "TensorLedger"]

    static func swiftFiles(in directory: String) throws -> [String] {
        try directoryEntries(directory).flatMap { name -> [String] in
            let path = joinPath(directory, name)
            if pathKind(path) == .directory { return try swiftFiles(in: path) }
            return name.hasSuffix(".swift") ? [path] : []
        }
    }

    /// The TensorLedger modules a file imports.
    static func imports(ofText text: String) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard let i = words.firstIndex(of: "import"), i + 1 < words.count,
                  words[..<i].allSatisfy({ $0.hasPrefix("@") }) else { return nil }
            let module = String(words[i + 1])
            return module.hasPrefix("TensorLedger") ? module : nil
        }
    }

    @Test func everyLayerImportsOnlyTheLayersBelowIt() throws {
        var checked = 0
        for (level, layer) in Self.layers.enumerated() {
            let files = try Self.swiftFiles(in: Fixtures.root + "/Sources/" + layer)
            #expect(!files.isEmpty, "no sources for \(layer)")
            for file in files {
                for module in Self.imports(ofText: String(decoding: try readWholeFile(file), as: UTF8.self)) {
                    let target = Self.layers.firstIndex(of: module)
                    #expect(target != nil && target! < level, "\(file) imports \(module), which is not below \(layer)")
                    checked += 1
                }
            }
        }
        #expect(checked > 100)
    }

    /// The rule itself can fail: an upward import is seen as one.
    @Test func anUpwardImportIsSeen() {
        #expect(Self.imports(ofText: "// x\n@testable import TensorLedgerRuntime\nimport Glibc\n") == ["TensorLedgerRuntime"])
    }
}
