import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a prompt (the default command): text on stdout, statistics on stderr.")

    @Argument(help: "The model: a file, or a Hugging Face folder (safetensors with config.json and tokenizer files).")
    var model: String

    @Option(name: .shortAndLong, parsing: .unconditional, help: "The prompt; '-' reads it from standard input.")
    var prompt: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Read the prompt from this file (llama.cpp's -f).", valueName: "file"))
    var file: String?

    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Stream JSON lines: {\"text\": piece} per token as generated, then one {\"done\": true, …} line (docs/CLI.md).")
    var json = false

    func validate() throws {
        guard (prompt == nil) != (file == nil) else { throw ValidationError("give the prompt with -p TEXT (or -p - for standard input) or -f FILE") }
    }

    func run() throws {
        let promptText = try PromptSource.read(prompt: prompt, file: file)
        let loaded = try runtime.load(model)
        let language = try LanguageModel(transformer: loaded.transformer)
        let options = sampling.options
        let state = try language.makeState(contextLength: options.contextLength, halfPrecisionKVCache: options.halfPrecisionKVCache)
        let promptIDs = language.promptTokens(promptText)
        var text = ""
        let stats = try Generator(transformer: language.transformer, tokenizer: language.tokenizer).generate(
            prompt: promptIDs, state: state, options: options
        ) { piece in
            if json {
                text += piece
                writeOutput(JSONValue.object(["text": .string(piece)]).serialized() + "\n")
            } else {
                writeOutput(piece)
            }
            return true
        }
        var ending = "\n"
        if json {
            func ids(_ values: [Int]) -> JSONValue { .array(values.map { .int(Int64($0)) }) }
            let result: JSONValue = .object([
                "done": .bool(true), "prompt_ids": ids(promptIDs), "ids": ids(stats.generatedIDs), "text": .string(text),
                "stop": .string(stats.stopReason.rawValue), "prompt_tokens_per_second": .double(stats.promptTokensPerSecond),
                "generated_tokens_per_second": .double(stats.generatedTokensPerSecond),
            ])
            ending = result.serialized() + "\n"
        }
        writeOutput(ending)  // unbuffered, as the pieces, so it comes before the statistics
        printError(String(format: "load %.2f s%@ · prompt %d tokens, %.1f tok/s · generated %d tokens, %.1f tok/s · stop: %@",
                          loaded.loadSeconds, loaded.repackNote, stats.promptTokens, stats.promptTokensPerSecond, stats.generatedTokens,
                          stats.generatedTokensPerSecond, stats.stopReason.rawValue))
    }
}

/// Where a prompt or text comes from: an argument, standard input (`-`), or a file, read so
/// that a missing file is reported like every other Kiln error (never as a Foundation error).
enum PromptSource {
    static func read(prompt: String?, file: String?) throws -> String {
        if let file { return try text(of: file) }
        if prompt == "-" {
            // `echo … |` adds a newline the user did not mean as part of the prompt.
            var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            return text
        }
        return prompt ?? ""
    }

    static func text(of path: String) throws -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw KilnError(.usage, "is a folder; give a text file", file: path)
        }
        let mapping = try MappedFile(path: path)
        return String(decoding: mapping.bytes, as: UTF8.self)
    }
}
