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

    func run() throws {
        let loaded = try runtime.load(model)
        let language = try LanguageModel(transformer: loaded.transformer)
        let options = sampling.options
        let state = language.makeState(contextLength: options.contextLength, halfPrecisionKVCache: options.halfPrecisionKVCache)
        let stats = try Generator(transformer: language.transformer, tokenizer: language.tokenizer).generate(
            prompt: language.promptTokens(prompt), state: state, options: options
        ) { piece in
            writeOutput(piece)
            return true
        }
        writeOutput("\n")  // unbuffered, as the pieces, so it comes before the statistics
        printError(String(format: "load %.2f s%@ · prompt %d tokens, %.1f tok/s · generated %d tokens, %.1f tok/s · stop: %@",
                          loaded.loadSeconds, loaded.repackNote, stats.promptTokens, stats.promptTokensPerSecond, stats.generatedTokens,
                          stats.generatedTokensPerSecond, stats.stopReason.rawValue))
    }
}
