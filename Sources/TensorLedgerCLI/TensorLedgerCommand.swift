// The `tensorledger` command line: argument parsing and printing only; every fact
// it prints comes from the TensorLedger library.

import ArgumentParser
import TensorLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct TensorLedgerCommand: ParsableCommand {
    static func main() {
        // A file size limit must make write() fail with EFBIG (a clear error, output
        // removed), not kill the process with SIGXFSZ.
        signal(SIGXFSZ, SIG_IGN)
        // A closed pipe must be a write error (EPIPE, the end of the output), not a kill.
        signal(SIGPIPE, SIG_IGN)
        let arguments = Array(CommandLine.arguments.dropFirst())
        // With --json, a malformed command line is the error object too.
        let json = arguments.contains("--json")
        func fail(_ message: String) -> Never {
            if json {
                Console.writeErr(CommandLineError(message: message).json.serialized(pretty: false) + "\n")
                Self.exit(withError: ExitCode(CommandLineError.exitCode))
            }
            Self.exit(withError: ValidationError(message))
        }
        // An unknown command (`runn`), and `help NAME` for one, which the parser would answer
        // with the overview and exit 0.
        let names = configuration.subcommands.map { $0._commandName }
        let named = arguments.first == "help" ? arguments.dropFirst().first : arguments.first
        if let name = named, !name.hasPrefix("-"), name != "help", !names.contains(name) {
            let guess = closestName(to: name, among: names).map { "; did you mean '\($0)'?" } ?? " (commands: \(names.joined(separator: ", ")))."
            fail("no command named '\(name)'" + guess)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            if json && !(error is ExitCode) && exitCode(for: error).rawValue == CommandLineError.exitCode {
                fail(message(for: error).split(separator: "\n").first.map(String.init) ?? "malformed command line")
            }
            Self.exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "tensorledger",
        abstract: "Look inside transformer checkpoints, shrink them, and prove they still work.",
        discussion: """
            Exit codes: 0 success, 1 malformed or unsupported input, 2 a request that \
            cannot be met, 3 missing or unreadable file, 4 write failure (nothing is left \
            behind), 64 a malformed command line.
            """,
        version: TensorLedgerVersion.string,
        subcommands: [Inspect.self, LedgerCommand.self, Plan.self, Diff.self, Report.self, Convert.self, Verify.self, Run.self, Chat.self, Next.self, TraceCommand.self, PerplexityCommand.self, Tokenize.self, Synth.self])
}

/// Runs a command body, turning library errors into one line on stderr (one JSON object
/// with `--json`) and the category's exit code.
func reportingErrors<T>(json: Bool, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as any TensorLedgerError {
        let message = commandLineWording(error)
        if json { Console.writeErr(error.json(message: message).serialized(pretty: false) + "\n") } else { printError(message) }
        throw ExitCode(error.category.exitCode)
    }
}

/// The library names settings in words; here they are named by the options that set them.
func commandLineWording(_ error: any TensorLedgerError) -> String {
    switch error {
    case GenerationError.invalidSetting(let setting, let reason):
        let option: String
        switch setting {
        case .maxTokens: option = "-n"
        case .context: option = "--context"
        case .cache: option = "--kv"
        default: option = "--" + setting.rawValue
        }
        return "\(option) \(reason)"
    case ConversionError.keepMatchesNothing:
        return error.description.replacing("keep pattern", with: "--keep", maxReplacements: 1)
    default:
        switch error.remedy {
        case nil: return error.description
        case .replaceOutput?: return error.description + " (use --force to replace it)"
        case .chooseTemplate?: return error.description + "; choose one with --template"
        case .keepInFloatOrScalePerRow?: return error.description + "; keep it in float (--keep) or use --weights q8-row"
        case .keepInFloat?: return error.description + "; keep it in float (--keep)"
        case .otherScheme?: return error.description + "; use --weights q8, f16, bf16 or f32, or a mix such as Q4_K_M"
        }
    }
}

/// Errors and warnings are one line: whatever a file put in the message is escaped.
func printError(_ message: String) {
    Console.writeErr("error: \(terminalSafe(message))\n")
}

func printWarning(_ message: String) {
    Console.writeErr("warning: \(terminalSafe(message))\n")
}

/// A text report: its lines are ours, but what a file put in it (names are escaped where
/// they are put in) can still hold an escape sequence; this is the last guard.
func printReport(_ text: String) {
    writeText(text + "\n")
}

/// Text a model made (or a prompt read from a file), streamed as it comes: lines and tabs
/// as they are, escape sequences and other controls escaped.
func writeText(_ text: String) {
    Console.writeOut(terminalSafe(text, keepingLines: true))
}
