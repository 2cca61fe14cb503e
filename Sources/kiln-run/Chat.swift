import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model using its chat template: interactive on a terminal, one message per line otherwise.",
        discussion: """
            Piped, each line of standard input is a user message and each reply is printed on its own \
            line(s), followed by an empty line, so replies never run together. With --json, one JSON \
            line per reply: {"user", "reply", "generated_tokens", "stop"}.
            """)

    @Argument(help: "The model: a file, or a Hugging Face folder.")
    var model: String

    @Option(help: "A system message.")
    var system: String?

    @Flag(help: "Print one JSON line per reply instead of text.")
    var json = false

    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        let loaded = try runtime.load(model)
        let language = try LanguageModel(transformer: loaded.transformer)
        let session = try ChatSession(model: language, system: system, options: sampling.options)
        let interactive = isatty(0) == 1
        if interactive { printError("chatting with \(model) — an empty line or end of input quits") }
        var first = true
        while true {
            if interactive { writeOutput("> ") }
            guard let line = readLine(), !line.trimmingCharacters(in: .whitespaces).isEmpty else { break }
            // Piped replies are separated by an empty line: one reply may itself span lines.
            if !interactive, !json, !first { writeOutput("\n") }
            first = false
            var reply = ""
            let stats = try session.send(line) { piece in
                reply += piece
                if !json { writeOutput(piece) }
                return true
            }
            if json {
                writeOutput(JSONValue.object([
                    "user": .string(line), "reply": .string(reply), "generated_tokens": .int(Int64(stats.generatedTokens)),
                    "stop": .string(stats.stopReason.rawValue),
                ]).serialized() + "\n")
            } else if !reply.hasSuffix("\n") {
                writeOutput("\n")  // unbuffered, as the pieces
            }
            if interactive {
                printError(String(format: "[%d tokens, %.1f tok/s]", stats.generatedTokens, stats.generatedTokensPerSecond))
            }
        }
    }
}
