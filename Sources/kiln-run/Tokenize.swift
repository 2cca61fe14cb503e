import ArgumentParser
import Kiln

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text (no BOS; special-token text becomes its id).")

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "The text.")
    var text: String

    @Flag(help: "Print JSON: {\"ids\": [...]}.")
    var json = false

    @Option(help: "Input format, when it cannot be recognised from the file.")
    var from: String?

    func run() throws {
        let canonical = try CanonicalModel.open(model, format: from)
        guard let spec = canonical.tokenizer else {
            throw KilnError(.unsupported, "the model file has no tokenizer", file: model)
        }
        let ids = try BPETokenizer(spec).encode(text)
        print(json ? JSONValue.object(["ids": .array(ids.map { .int(Int64($0)) })]).serialized() : ids.map(String.init).joined(separator: " "))
    }
}
