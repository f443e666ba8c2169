// The shared shape of every error TensorLedger reports: a category the CLI turns
// into an exit code, and a one-line description that names the file and the fault.

/// What kind of failure an error is; the CLI maps each to its own exit code.
public enum ErrorCategory: Sendable {
    /// The input exists but is malformed or unsupported (exit 1).
    case badInput
    /// A named file or directory does not exist or cannot be opened (exit 3).
    case missingFile
    /// Writing the output failed; nothing was left behind (exit 4).
    case writeFailure
    /// The command line asks for something impossible (exit 2).
    case usage
}

public protocol TensorLedgerError: Error, CustomStringConvertible, Sendable {
    var category: ErrorCategory { get }
}

/// Errors from opening, mapping and writing files.
public enum FileError: TensorLedgerError, Equatable {
    case notFound(path: String)
    case isDirectory(path: String)
    case permissionDenied(path: String)
    case symlinkLoop(path: String)
    case readFailed(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case outputExists(path: String)
    case outputIsInput(path: String)

    public var category: ErrorCategory {
        switch self {
        case .notFound, .permissionDenied, .symlinkLoop: return .missingFile
        case .isDirectory, .readFailed: return .badInput
        case .writeFailed: return .writeFailure
        case .outputExists, .outputIsInput: return .usage
        }
    }

    public var description: String {
        switch self {
        case .notFound(let p): return "\(p): no such file or directory"
        case .isDirectory(let p): return "\(p): is a directory, expected a file"
        case .permissionDenied(let p): return "\(p): permission denied"
        case .symlinkLoop(let p): return "\(p): too many levels of symbolic links"
        case .readFailed(let p, let r): return "\(p): cannot read: \(r)"
        case .writeFailed(let p, let r): return "\(p): cannot write: \(r); no output was left behind"
        case .outputExists(let p): return "\(p): already exists (use --force to replace it)"
        case .outputIsInput(let p): return "\(p): the output is the input file; refusing to overwrite it"
        }
    }
}
