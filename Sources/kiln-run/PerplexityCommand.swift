import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a text, computed as llama.cpp's perplexity tool does (comparable numbers).")

    @Argument(help: "The model: a file, or a Hugging Face folder.")
    var model: String

    // `--text` was the first spelling; kept, hidden, so scripts written for it go on working.
    @Option(name: [.short, .long, .customLong("text", withSingleDash: false)],
            help: ArgumentHelp("The text file to score (llama.cpp's -f).", valueName: "file"))
    var file: String

    @Option(name: [.short, .customLong("ctx-size"), .customLong("ctx")], help: "Window length; the second half of each window is scored.")
    var ctx: Int = 512

    @Flag(help: "Print JSON: {\"perplexity\": x, \"tokens\": n, …}.")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard ctx >= 8 else { throw ValidationError("-c/--ctx-size must be at least 8; got \(ctx)") }
    }

    func run() throws {
        let contents = try PromptSource.text(of: file)
        let loaded = try runtime.load(model)
        let language = try LanguageModel(transformer: loaded.transformer)
        // Every window on a terminal; a line every few seconds in a pipe or a log.
        let terminal = isatty(2) == 1
        var lastLine = DispatchTime.now()
        let result = try language.perplexity(text: contents, context: ctx) { done, total, running in
            if terminal || seconds(since: lastLine) >= 5 || done == total {
                printError(String(format: "[%d/%d] %.4f", done, total, running))
                lastLine = DispatchTime.now()
            }
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
