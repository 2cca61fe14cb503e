import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

@main
struct KilnRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln-run",
        abstract: "The tiny runner: generate, chat, serve, tokenize, logits, perplexity and benchmarks.",
        version: KilnVersion.current,
        subcommands: [Generate.self, Chat.self, Serve.self, Tokenize.self, Logits.self, Perplexity.self, Bench.self],
        defaultSubcommand: Generate.self
    )

    static func main() { runWithKilnExitStatus() }
}
