import ArgumentParser
import Foundation
import Kiln

@main
struct KilnRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln-run",
        abstract: "The tiny runner: generate, chat, tokenize, logits, perplexity and benchmarks.",
        version: KilnVersion.current,
        subcommands: [Generate.self, Tokenize.self, Logits.self, Perplexity.self, Bench.self],
        defaultSubcommand: Generate.self
    )

    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if let code = error as? ExitCode { Foundation.exit(code.rawValue) }
            if let error = error as? KilnError {
                FileHandle.standardError.write("kiln-run: error: \(error)\n".data(using: .utf8)!)
                Foundation.exit(error.kind == .io || error.kind == .usage ? 2 : 1)
            }
            let code = exitCode(for: error)
            if code == .success { print(fullMessage(for: error)); Foundation.exit(0) }
            FileHandle.standardError.write((fullMessage(for: error) + "\n").data(using: .utf8)!)
            Foundation.exit(2)
        }
    }
}
