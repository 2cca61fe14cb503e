import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a prompt (the default command): text on stdout, statistics on stderr.")

    @Argument(help: "The model file.")
    var model: String

    @Option(name: .shortAndLong, help: "The prompt.")
    var prompt: String

    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Print JSON when done instead of streaming text: prompt_ids, ids (generated), text, stop.")
    var json = false

    func run() throws {
        let loaded = try runtime.load(model)
        let language = try LanguageModel(transformer: loaded.transformer)
        let options = sampling.options
        let state = try language.makeState(contextLength: options.contextLength, halfPrecisionKVCache: options.halfPrecisionKVCache)
        let promptIDs = language.promptTokens(prompt)
        var text = ""
        let stats = try Generator(transformer: language.transformer, tokenizer: language.tokenizer).generate(
            prompt: promptIDs, state: state, options: options
        ) { piece in
            if json { text += piece } else { writeOutput(piece) }
            return true
        }
        var ending = "\n"
        if json {
            func ids(_ values: [Int]) -> JSONValue { .array(values.map { .int(Int64($0)) }) }
            let result: JSONValue = .object(["prompt_ids": ids(promptIDs), "ids": ids(stats.generatedIDs), "text": .string(text),
                                             "stop": .string(stats.stopReason.rawValue)])
            ending = result.serialized() + "\n"
        }
        writeOutput(ending)  // unbuffered, as the pieces, so it comes before the statistics
        printError(String(format: "load %.2f s%@ · prompt %d tokens, %.1f tok/s · generated %d tokens, %.1f tok/s · stop: %@",
                          loaded.loadSeconds, loaded.repackNote, stats.promptTokens, stats.promptTokensPerSecond, stats.generatedTokens,
                          stats.generatedTokensPerSecond, stats.stopReason.rawValue))
    }
}
