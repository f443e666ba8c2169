// Paths to the committed fixtures and the reference facts recorded beside them.

import TensorLedger

enum Fixtures {
    /// The repository root, found from this file's path (Tests/TensorLedgerTests/Fixtures.swift).
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static func path(_ relative: String) -> String { root + "/fixtures/" + relative }
    static func model(_ name: String) -> String { path("models/" + name) }
    /// llama.cpp's GPT-2 vocabulary and test vectors, copied into fixtures/vocab (its README says from where).
    static func anchor(_ name: String) -> String { path("vocab/" + name) }

    /// A JSON object from fixtures/; throws, so a missing or broken fixture fails the
    /// tests that read it, never the whole run.
    static func json(_ relative: String) throws -> JSONObject {
        guard let object = try JSON.parse(try readWholeFile(path(relative))).object else { throw FixtureError.notAnObject(relative) }
        return object
    }

    /// fixtures/expected/checkpoints.json, written by fixtures/scripts/make_checkpoints.py.
    static var checkpointFacts: JSONObject { get throws { try checkpointFactsStorage.get() } }
    private static let checkpointFactsStorage = Loaded { try json("expected/checkpoints.json") }
}

enum FixtureError: Error { case notAnObject(String), mismatch(String) }

/// Something a suite loads once (a model, a table of goldens). Loading errors are kept
/// and thrown to each test that asks, so one broken fixture cannot trap the run.
struct Loaded<T>: @unchecked Sendable {
    private let result: Result<T, any Error>
    init(_ load: () throws -> T) { result = Result(catching: load) }
    func get() throws -> T { try result.get() }
}

/// The case name of an enum error value ("sizeMismatch" for `.sizeMismatch(...)`).
func caseName(_ error: Any) -> String {
    let mirror = Mirror(reflecting: error)
    if let label = mirror.children.first?.label { return label }
    return String(describing: error)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory under /tmp, removed when the value goes away.
final class TemporaryDirectory {
    let path: String
    init() {
        var template = Array("/tmp/tensorledger-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { _ = system("rm -rf '\(path)'") }
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    let f = fopen(path, "wb")!
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
}

func copyFile(_ from: String, _ to: String) {
    writeFile(to, (try? readWholeFile(from)) ?? [])
}

func fileExists(_ path: String) -> Bool { pathKind(path) != .missing }

/// The first of `names` found on PATH, as a full path.
func onPath(_ names: String...) -> String? {
    let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin"
    for name in names {
        for dir in path.split(separator: ":") where fileExists("\(dir)/\(name)") { return "\(dir)/\(name)" }
    }
    return nil
}
