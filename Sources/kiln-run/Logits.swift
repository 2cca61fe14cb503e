import ArgumentParser
import Foundation
import Kiln

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the top logits at every position of a prompt (for checking against a reference).")

    @Argument(help: "The model: a file (.kiln, .gguf, safetensors with config.json, …) or a Hugging Face folder.")
    var model: String

    @Option(name: .shortAndLong, parsing: .unconditional, help: "The prompt text (tokenised without BOS); '-' reads standard input.")
    var prompt: String?

    @Option(help: ArgumentHelp("Token ids instead of a prompt, comma-separated.", valueName: "ids"))
    var ids: String?

    @Option(parsing: .unconditional, help: "How many of the largest logits to print per position.")
    var top: Int = 5

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard (prompt == nil) != (ids == nil) else { throw ValidationError("give either -p TEXT or --ids 1,2,3") }
        guard top > 0 else { throw ValidationError("--top must be at least 1; got \(top)") }
    }

    func run() throws {
        let loaded = try runtime.load(model)
        let tokens: [Int]
        if let ids {
            tokens = try ids.split(separator: ",").map {
                guard let id = Int($0.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("'\($0)' is not a token id") }
                return id
            }
        } else {
            tokens = try loaded.tokenizer().encode(try PromptSource.read(prompt: prompt, file: nil))
        }
        let state = try InferenceState(transformer: loaded.transformer, contextLength: max(tokens.count, 1))
        let logits = try state.forward(tokens, allLogits: true)
        let vocabulary = loaded.transformer.config.vocabulary
        var positions: [JSONValue] = []
        // A header naming the columns: position, input token id, then the top ids with their logits.
        if !json { print("# pos\ttoken\ttop \(top) (id:logit, largest first)") }
        for position in tokens.indices {
            let row = Array(logits[(position * vocabulary)..<((position + 1) * vocabulary)])
            let best = Sampler.topIndices(row, top)
            if json {
                positions.append(.object([
                    "pos": .int(Int64(position)), "token": .int(Int64(tokens[position])),
                    "top_ids": .array(best.map { .int(Int64($0)) }), "top_logits": .array(best.map { .double(Double(row[$0])) }),
                ]))
            } else {
                print("\(position)\t\(tokens[position])\t" + best.map { "\($0):" + String(format: "%.4f", row[$0]) }.joined(separator: " "))
            }
        }
        if json { print(JSONValue.object(["positions": .array(positions)]).serialized()) }
    }
}
