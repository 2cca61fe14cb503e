import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a text, computed as llama.cpp's perplexity tool does (comparable numbers).")

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "The text file.")
    var text: String

    @Option(help: "Window length; the second half of each window is scored.")
    var ctx: Int = 512

    @Flag(help: "Print JSON: {\"perplexity\": x, \"tokens\": n}.")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        let loaded = try runtime.load(model)
        let language = try LanguageModel(transformer: loaded.transformer)
        let contents = try String(contentsOfFile: text, encoding: .utf8)
        let result = try language.perplexity(text: contents, context: ctx) { done, total, running in
            if isatty(2) == 1 { printError(String(format: "[%d/%d] %.4f", done, total, running)) }
        }
        if json {
            print(JSONValue.object([
                "perplexity": .double(result.perplexity), "tokens": .int(Int64(result.scoredTokens)),
                "windows": .int(Int64(result.windows)), "ctx": .int(Int64(ctx)), "seconds": .double(result.seconds),
            ]).serialized())
        } else {
            print(String(format: "perplexity %.4f over %d tokens (%d windows of %d) in %.1f s",
                         result.perplexity, result.scoredTokens, result.windows, ctx, result.seconds))
        }
    }
}
