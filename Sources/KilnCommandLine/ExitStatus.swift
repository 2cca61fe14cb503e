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
    /// With `--json` anywhere before `--`, errors are printed as JSON (see ``errorJSON(_:status:)``).
    package static func runWithKilnExitStatus() -> Never {
        ToolSignals.install(program: configuration.commandName ?? "kiln")
        let arguments = Array(CommandLine.arguments.dropFirst())
        let json = arguments.prefix { $0 != "--" }.contains("--json")
        CommandLineMode.json = json
        CommandLineMode.commandName = configuration.commandName ?? "kiln"
        do {
            var command: ParsableCommand
            do {
                command = try parseAsRoot(arguments)
            } catch where exitCode(for: error) != .success {
                // ArgumentParser's own message is often about the wrong thing (a misspelt
                // command reported as an unknown option); a hint from the raw arguments first.
                if let hint = usageHint(arguments) { throw KilnError(.usage, hint) }
                throw error
            }
            try command.run()
            BackgroundVerification.wait()  // a damaged file must not end with status 0
            Foundation.exit(0)
        } catch {
            Foundation.exit(reportError(error, json: json))
        }
    }

    /// Prints `error` to standard error (help and version requests to standard output), or as
    /// JSON on standard output under `--json`, and returns the exit status it calls for.
    package static func reportError(_ error: Error, json: Bool = false) -> Int32 {
        if let code = error as? ExitCode { return code.rawValue }
        let name = configuration.commandName ?? "kiln"
        if let error = (error as? KilnError) ?? KilnError(foundation: error) {
            let status = exitStatus(for: error)
            if json { writeOutput(errorJSON(error, status: status).serialized() + "\n") }
            else { printError("\(name): error: \(error)") }
            return status
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
        if json {
            writeOutput(errorJSON(KilnError(.usage, message(for: error)), status: 2).serialized() + "\n")
        } else {
            printError(fullMessage(for: error))
        }
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

/// The object both tools print for an error under `--json` (docs/CLI.md):
/// `{"error": {"kind", "message", "file"?, "location"?, "offset"?, "exit_status"}}`.
package func errorJSON(_ error: KilnError, status: Int32) -> JSONValue {
    var object: [String: JSONValue] = [
        "kind": .string(error.kind.rawValue), "message": .string(error.message), "exit_status": .int(Int64(status)),
        "description": .string(error.description),
    ]
    if let file = error.file { object["file"] = .string(file) }
    if let location = error.location { object["location"] = .string(location) }
    if let offset = error.offset { object["offset"] = .uint(offset) }
    return .object(["error": .object(object)])
}

extension KilnError {
    /// Foundation's file errors as Kiln's I/O errors, so that no `Error Domain=NSCocoaErrorDomain
    /// Code=260 …` reaches a user; nil for errors that are not Foundation's.
    package init?(foundation error: Error) {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return nil }
        let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        let message: String
        switch (ns.domain, ns.code) {
        case (NSCocoaErrorDomain, NSFileReadNoSuchFileError), (NSCocoaErrorDomain, NSFileNoSuchFileError):
            message = "No such file or directory"
        case (NSCocoaErrorDomain, NSFileReadNoPermissionError), (NSCocoaErrorDomain, NSFileWriteNoPermissionError):
            message = "Permission denied"
        case (NSCocoaErrorDomain, NSFileReadInapplicableStringEncodingError):
            message = "not valid UTF-8 text"
        case (NSPOSIXErrorDomain, let code):
            message = String(cString: strerror(Int32(code)))
        default:
            if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
                message = String(cString: strerror(Int32(underlying.code)))
            } else {
                message = "could not be read or written (Foundation error \(ns.code))"
            }
        }
        self.init(.io, message, file: path)
    }
}
