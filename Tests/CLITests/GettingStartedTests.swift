import Foundation
import Kiln
import TestSupport
import Testing

/// The code of the Getting Started article (Sources/Kiln/Kiln.docc/GettingStarted.md), compiled
/// and run here against the public API only (`import Kiln`, nothing `@testable`) so the article
/// cannot go stale: each region between `// snippet` and `// end snippet` must equal the
/// article's Swift code block of the same rank, which `articleMatchesTheseSnippets` checks.
/// The model is a two-layer Llama with its own tokenizer and chat template (Fixtures/models/writer-llama).
struct GettingStartedTests {
    let modelPath = Repository.fixture("models/writer-llama/model.safetensors")

    @Test func gettingStarted() async throws {
        let directory = TemporaryDirectory()
        let kilnPath = directory.file("model.kiln")
        let ggufPath = directory.file("model.gguf")
        let quantizedPath = directory.file("model-q4.kiln")

        // snippet
        let model = try CanonicalModel.open(modelPath)
        print(model.config?.architecture ?? "not a model Kiln recognises")
        for tensor in model.tensors.prefix(3) {
            print(tensor.name, tensor.type, tensor.shape)  // canonical name, element type, shape
        }
        let embedding = try model.data("token_embd.weight")  // a view into the file where possible
        print(embedding.bytes.count)

        print(Inspection(model.reader).text())  // what `kiln inspect` prints
        // end snippet
        #expect(model.config?.architecture == "llama")
        #expect(embedding.bytes.count == 98 * 32 * 4, "f32 [98, 32]")

        // snippet
        let summary = try Conversion.toKiln(model, output: kilnPath)
        print(summary.tensors, summary.outputBytes)

        let writer = try FormatRegistry.writer(for: ggufPath)  // chosen by the extension
        try Conversion.convert(model, to: writer, output: ggufPath)
        // end snippet

        // snippet
        let file = try KilnFile(path: kilnPath)
        let norm = try file.floats("output_norm.weight")  // no copy: valid while `file` lives
        let query = try file.dequantized("blk.0.attn_q.weight")  // any type, decoded to f32
        print(norm.count, query.count, file.verify().isSound)
        // end snippet
        #expect(norm.count == 32 && query.count == 32 * 32)
        #expect(file.verify().isSound)

        // snippet
        let recipe = QuantRecipe.preset("q4-mixed", layers: model.config?.layers ?? 0)!
        let report = try Quantization.quantize(model, output: quantizedPath,
                                               options: Quantization.Options(recipe: recipe))
        print(String(format: "%.2f bits per weight", report.bitsPerWeight))
        for entry in report.entries {
            if let error = entry.error {
                print(entry.name, entry.type, error.rmse, error.snrDecibels)
            }
        }
        // end snippet
        #expect(report.bitsPerWeight < 32 && report.entries.contains { $0.error != nil })

        // snippet
        let diff = try ModelDiff.compare(kilnPath, quantizedPath)
        print(diff.summary())  // counts by verdict, then "equal" or "different"
        for tensor in diff.tensors.prefix(3) {
            print(tensor.name, tensor.status, tensor.comparison?.rmse ?? 0)
        }
        // end snippet
        #expect(diff.isDifferent(failOn: .changed), "quantising changes values")
        #expect(!(try ModelDiff.compare(modelPath, kilnPath)).isDifferent(failOn: .any), "conversion keeps every value")
        #expect(!(try ModelDiff.compare(modelPath, ggufPath)).isDifferent(failOn: .changed))

        // snippet
        let language = try LanguageModel(contentsOf: URL(fileURLWithPath: quantizedPath))
        let options = GenerationOptions(maxTokens: 16, sampling: .greedy)
        for try await piece in language.generate(prompt: "Once upon a time", options: options) {
            print(piece, terminator: "")
        }
        // end snippet

        // snippet
        let ids = language.tokenizer.encode("Hello, world")
        print(ids, language.tokenizer.decode(ids))
        // end snippet
        #expect(language.tokenizer.decode(ids) == "Hello, world")

        // snippet
        let chat = try ChatSession(model: language, system: "Be brief.")
        try chat.send("What is the capital of France?") { piece in
            print(piece, terminator: "")
            return true  // false stops the reply
        }
        // end snippet
        #expect(chat.messages.map(\.role) == ["system", "user", "assistant"])

        let evaluationText = try String(contentsOfFile: Repository.fixture("text/gpl-3.txt"), encoding: .utf8)
        // snippet
        let result = try language.perplexity(text: evaluationText, context: 128)
        print(result.perplexity, result.scoredTokens)
        // end snippet
        #expect(result.perplexity.isFinite && result.perplexity > 1)

        // snippet
        let state = try language.makeState()
        var sampler = Sampler(SamplingOptions(temperature: 0.7, seed: 42))
        var logits = try state.forward(language.promptTokens("Once upon a time"))
        for _ in 0..<8 {
            let next = sampler.sample(logits, recent: state.tokens[...])
            logits = try state.forward([next])
        }
        // end snippet
        #expect(state.position == language.promptTokens("Once upon a time").count + 8)

        // snippet
        do {
            _ = try KilnFile(path: modelPath)  // a safetensors file is not a .kiln file
        } catch let error as KilnError {
            print(error.kind, error.file ?? "", error.offset ?? 0)
            print(error)  // file: byte offset: what was found and what was expected
        }
        // end snippet
        #expect(throws: KilnError.self) { try KilnFile(path: modelPath) }
    }

    /// Each Swift block of the article is one snippet of `gettingStarted`, in order (blocks that
    /// show Package.swift are not Kiln code and are skipped).
    @Test func articleMatchesTheseSnippets() throws {
        let article = try String(contentsOfFile: Repository.path("Sources/Kiln/Kiln.docc/GettingStarted.md"), encoding: .utf8)
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let blocks = Self.blocks(in: article).filter { !$0.contains(".package(") }
        let snippets = Self.snippets(in: source)
        #expect(blocks.count == snippets.count, "\(blocks.count) Swift blocks in the article, \(snippets.count) snippets here")
        for (index, (block, snippet)) in zip(blocks, snippets).enumerated() {
            #expect(block == snippet, "article block \(index + 1) differs from snippet \(index + 1)")
        }
    }

    static func blocks(in markdown: String) -> [String] {
        var blocks: [String] = [], current: [String]? = nil
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```swift" {
                current = []
            } else if current != nil, line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append(dedented(current!))
                current = nil
            } else if current != nil {
                current!.append(String(line))
            }
        }
        return blocks
    }

    static func snippets(in source: String) -> [String] {
        var snippets: [String] = [], current: [String]? = nil
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "// snippet" {
                current = []
            } else if trimmed == "// end snippet", current != nil {
                snippets.append(dedented(current!))
                current = nil
            } else if current != nil {
                current!.append(String(line))
            }
        }
        return snippets
    }

    /// The lines with their common leading spaces removed, joined.
    static func dedented(_ lines: [String]) -> String {
        let indent = lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return lines.map { $0.count >= indent ? String($0.dropFirst(indent)) : $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: "\n")
    }
}
