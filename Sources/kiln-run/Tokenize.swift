import ArgumentParser
import Kiln

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text (no BOS; special-token text becomes its id).")

    @Argument(help: "The model: a file, or a Hugging Face folder.")
    var model: String

    @Argument(help: "The text ('-' reads standard input).")
    var text: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Tokenise this file's text instead.", valueName: "file"))
    var file: String?

    @Flag(help: "Print JSON: {\"ids\": [...], \"tokens\": [{\"id\": n, \"text\": piece, \"token\": vocabulary entry}]}.")
    var json = false

    @Option(help: "Input format, when it cannot be recognised from the file.")
    var from: String?

    func validate() throws {
        guard (text == nil) != (file == nil) else { throw ValidationError("give the text as an argument or with -f FILE") }
    }

    func run() throws {
        let input = try PromptSource.read(prompt: text, file: file)
        let canonical = try CanonicalModel.open(model, format: from)
        guard let spec = canonical.tokenizer else {
            throw KilnError(.unsupported, "the model file has no tokenizer", file: model)
        }
        let tokenizer = try BPETokenizer(spec)
        let ids = tokenizer.encode(input)
        guard json else { print(ids.map(String.init).joined(separator: " ")); return }
        // Each id with the text it stands for (a piece of a multi-byte character may decode to U+FFFD
        // alone) and its raw vocabulary entry (byte-level alphabet), as llama-tokenize shows both.
        let tokens: [JSONValue] = ids.map {
            .object(["id": .int(Int64($0)), "text": .string(tokenizer.decode([$0])),
                     "token": tokenizer.token($0).map(JSONValue.string) ?? .null])
        }
        print(JSONValue.object(["ids": .array(ids.map { .int(Int64($0)) }), "tokens": .array(tokens)]).serialized())
    }
}
