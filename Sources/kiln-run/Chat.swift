import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model using its chat template: interactive on a terminal, one message per line otherwise.")

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "A system message.")
    var system: String?

    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        let loaded = try runtime.load(model)
        let language = try LanguageModel(transformer: loaded.transformer)
        let session = try ChatSession(model: language, system: system, options: sampling.options)
        let interactive = isatty(0) == 1
        if interactive { printError("chatting with \(model) — an empty line or end of input quits") }
        while true {
            if interactive { writeOutput("> ") }
            guard let line = readLine(), !line.trimmingCharacters(in: .whitespaces).isEmpty else { break }
            let stats = try session.send(line) { piece in
                writeOutput(piece)
                return true
            }
            writeOutput("\n")  // unbuffered, as the pieces
            if interactive {
                printError(String(format: "[%d tokens, %.1f tok/s]", stats.generatedTokens, stats.generatedTokensPerSecond))
            }
        }
    }
}
