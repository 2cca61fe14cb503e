import ArgumentParser
import Foundation
import Kiln

@main
struct KilnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Convert, quantise, inspect and verify model checkpoints.",
        discussion: """
            Exit status: 0 on success; 1 when an input is malformed, unsupported or fails \
            verification; 2 for usage and I/O errors.
            """,
        version: KilnVersion.current,
        subcommands: [Convert.self, Quantize.self, Inspect.self, Verify.self, Formats.self]
    )

    /// Runs the command with Kiln's exit codes (ArgumentParser's own would use 64 for usage errors).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            Foundation.exit(CommandErrors.report(error, command: self))
        }
    }
}

enum CommandErrors {
    /// Prints `error` and returns the exit status it calls for.
    static func report(_ error: Error, command: any ParsableCommand.Type) -> Int32 {
        if let code = error as? ExitCode { return code.rawValue }
        if let error = error as? KilnError {
            FileHandle.standardError.write("\(command.configuration.commandName ?? "kiln"): error: \(error)\n".data(using: .utf8)!)
            switch error.kind {
            case .io, .usage: return 2
            case .malformed, .unsupported, .checksum: return 1
            }
        }
        let code = command.exitCode(for: error)
        if code == .success {
            print(command.fullMessage(for: error))
            return 0
        }
        FileHandle.standardError.write((command.fullMessage(for: error) + "\n").data(using: .utf8)!)
        return 2
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write((text + "\n").data(using: .utf8)!)
}
