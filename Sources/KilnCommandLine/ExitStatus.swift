import ArgumentParser
import Foundation
import KilnChatTemplates
import KilnCore

// What `kiln` and `kiln-run` share: how an error becomes a message and an exit status, and how
// they write to the terminal. `package`: only this package's executables use it.

extension ParsableCommand {
    /// Parses the command line, runs the command and exits with Kiln's statuses: 0 on success;
    /// 1 when an input is malformed, unsupported or fails its checksums; 2 for usage and I/O
    /// errors (ArgumentParser's own would use 64 for usage errors). A thrown `ExitCode` is
    /// passed through, for commands whose statuses mean something else (`kiln diff`, `verify`).
    /// Signals are set up first (`ToolSignals`): a mapped input truncated under the tool, or a
    /// file-size limit, end as errors with these statuses too rather than as signal deaths.
    package static func runWithKilnExitStatus() -> Never {
        ToolSignals.install(program: configuration.commandName ?? "kiln")
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(0)
        } catch {
            Foundation.exit(reportError(error))
        }
    }

    /// Prints `error` to standard error (help and version requests to standard output) and
    /// returns the exit status it calls for.
    package static func reportError(_ error: Error) -> Int32 {
        if let code = error as? ExitCode { return code.rawValue }
        if let error = error as? KilnError {
            printError("\(configuration.commandName ?? "kiln"): error: \(error)")
            return exitStatus(for: error)
        }
        if let error = error as? ChatTemplateError {
            // A model's template that does not parse, raises or exceeds its limits: the model is
            // malformed, as with any other bad field (exit 1), and reported the same way.
            printError("\(configuration.commandName ?? "kiln"): error: \(error)")
            return 1
        }
        if exitCode(for: error) == .success {  // --help, --version
            print(fullMessage(for: error))
            return 0
        }
        printError(fullMessage(for: error))
        return 2
    }
}

/// 2 for usage and I/O errors (the caller can fix them), 1 for bad input files.
package func exitStatus(for error: KilnError) -> Int32 {
    switch error.kind {
    case .io, .usage: 2
    case .malformed, .unsupported, .checksum: 1
    }
}
