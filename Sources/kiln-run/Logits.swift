import ArgumentParser
import Foundation
import Kiln

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the top logits at every position of a prompt (for checking against a reference).")

    @Argument(help: "The model file (.kiln, .gguf, safetensors with config.json, …).")
    var model: String

    @Option(name: .shortAndLong, help: "The prompt text (tokenised without BOS).")
    var prompt: String?

    @Option(help: ArgumentHelp("Token ids instead of a prompt, comma-separated.", valueName: "ids"))
    var ids: String?

    @Option(help: "How many of the largest logits to print per position.")
    var top: Int = 5

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard (prompt == nil) != (ids == nil) else { throw ValidationError("give either -p TEXT or --ids 1,2,3") }
        guard top > 0 else { throw ValidationError("--top must be positive") }
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
            tokens = try loaded.tokenizer().encode(prompt!)
        }
        let state = try InferenceState(transformer: loaded.transformer, contextLength: max(tokens.count, 1))
        let logits = try state.forward(tokens, allLogits: true)
        let vocabulary = loaded.transformer.config.vocabulary
        var positions: [JSONValue] = []
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
