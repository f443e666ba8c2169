// The shared shape of every error TensorLedger reports: a category with its exit code,
// and a one-line description that names the file and the fault.

/// What kind of failure an error is, each with its own exit code.
public enum ErrorCategory: String, Sendable {
    /// The input exists but is malformed or unsupported.
    case badInput = "bad_input"
    /// A named file or directory does not exist or cannot be opened.
    case missingFile = "missing_file"
    /// Writing the output failed; nothing was left behind.
    case writeFailure = "write_failure"
    /// The command line asks for something impossible.
    case usage
    /// Ctrl-C stopped the work before it was done.
    case interrupted
    /// The command line itself is malformed: an unknown command or option, a value of the
    /// wrong type (the argument parser's exit status).
    case commandLine = "command_line"

    public var exitCode: Int32 {
        switch self {
        case .badInput: return 1
        case .usage: return 2
        case .missingFile: return 3
        case .writeFailure: return 4
        case .interrupted: return 130  // 128 + SIGINT, as a shell reports it
        case .commandLine: return 64  // EX_USAGE, as swift-argument-parser exits
        }
    }
}

public protocol TensorLedgerError: Error, CustomStringConvertible, Sendable {
    var category: ErrorCategory { get }
    /// What the user can change to get past the error, when there is one thing: the
    /// command line words it as its option, other callers as they like.
    var remedy: Remedy? { get }
}

public enum Remedy: Sendable, Equatable {
    /// Allow the existing output to be replaced.
    case replaceOutput
    /// Name a chat template.
    case chooseTemplate
    /// Keep the tensor in float, or give each row its own scale.
    case keepInFloatOrScalePerRow
    /// Keep the tensor in float.
    case keepInFloat
    /// Store the weights in a scheme the format has (q8, f16, bf16, f32).
    case otherScheme
}

extension TensorLedgerError {
    public var remedy: Remedy? { nil }

    public static var jsonSchema: String { "tensorledger.error/1" }

    /// The error as a `--json` command prints it on stderr: the same line, its kind and exit code.
    public var json: JSONValue { json(message: description) }

    /// The same, with the message as the command line words it.
    public func json(message: String) -> JSONValue {
        JSONObject([
            "error": .string(message), "kind": .string(category.rawValue), "exit_code": .int(Int(category.exitCode)),
        ]).report(schema: Self.jsonSchema)
    }
}

/// A malformed command line, as the parser words it (for `--json`'s error object).
public struct CommandLineError: TensorLedgerError, Equatable {
    public var message: String
    public init(message: String) { self.message = message }
    public static let exitCode = ErrorCategory.commandLine.exitCode
    public var category: ErrorCategory { .commandLine }
    public var description: String { message }
}

/// Ctrl-C stopped work that has nothing to show before it ends.
public struct InterruptedError: TensorLedgerError, Equatable {
    /// What had been done, for the message ("converted 12 of 148 tensors").
    public var progress: String
    public init(progress: String) { self.progress = progress }
    public var category: ErrorCategory { .interrupted }
    public var description: String { "interrupted: \(progress)" }
}

/// Errors from opening, mapping and writing files.
public enum FileError: TensorLedgerError, Equatable {
    case notFound(path: String)
    case isDirectory(path: String)
    case permissionDenied(path: String)
    case symlinkLoop(path: String)
    case brokenLink(path: String)
    case readFailed(path: String, reason: String)
    /// Longer than the reader takes for this kind of file.
    case tooLarge(path: String, limit: Int)
    case writeFailed(path: String, reason: String)
    case outputExists(path: String)
    case outputIsInput(path: String)
    case outputNotRegular(path: String)

    public var category: ErrorCategory {
        switch self {
        case .notFound, .permissionDenied, .symlinkLoop, .brokenLink: return .missingFile
        case .isDirectory, .readFailed, .tooLarge: return .badInput
        case .writeFailed: return .writeFailure
        case .outputExists, .outputIsInput, .outputNotRegular: return .usage
        }
    }

    public var remedy: Remedy? {
        if case .outputExists = self { return .replaceOutput }
        return nil
    }

    public var description: String {
        switch self {
        case .notFound(let p): return "\(p): no such file or directory"
        case .isDirectory(let p): return "\(p): is a directory, expected a file"
        case .permissionDenied(let p): return "\(p): permission denied"
        case .symlinkLoop(let p): return "\(p): too many levels of symbolic links"
        case .brokenLink(let p): return "\(p): a link to a file that is not there (an interrupted download? fetch the model again)"
        case .tooLarge(let p, let limit): return "\(p): file is over the \(formatCount(limit))-byte limit for this kind of file"
        case .readFailed(let p, let r): return "\(p): cannot read: \(r)"
        case .writeFailed(let p, let r): return "\(p): cannot write: \(r); no output was left behind"
        case .outputExists(let p): return "\(p): already exists"
        case .outputIsInput(let p): return "\(p): the output is the input file; refusing to overwrite it"
        case .outputNotRegular(let p): return "\(p): is not a regular file (a device, FIFO or socket); refusing to replace it"
        }
    }
}
