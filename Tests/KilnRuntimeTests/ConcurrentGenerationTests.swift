import Foundation
import KilnCore
import KilnFormats
import KilnRuntime
import TestSupport
import Testing

/// One loaded model shared by several generations at once (each with its own KV cache), as a
/// server would: every concurrent run must give exactly the text the same prompt gives alone.
/// Tools/sanitize.sh runs this under ThreadSanitizer, where it also checks the shared weights,
/// tokenizer caches and kernel thread pool for data races.
struct ConcurrentGenerationTests {
    static let prompts = ["hello", "the world", "hello hello", "a b c", "lower", "old hello world", "he", "ll"]

    @Test func concurrentGenerationsMatchSerialOnes() async throws {
        let model = try LanguageModel(contentsOf: URL(fileURLWithPath: Repository.fixture("models/writer-llama/model.safetensors")))
        let options = GenerationOptions(maxTokens: 12, sampling: SamplingOptions(temperature: 0), stopAtEOS: false, contextLength: 64)
        func generate(_ prompt: String) throws -> String {
            let state = try model.makeState(contextLength: 64)
            var text = ""
            try Generator(transformer: model.transformer, tokenizer: model.tokenizer)
                .generate(prompt: model.promptTokens(prompt), state: state, options: options) { text += $0; return true }
            return text
        }
        let serial = try Self.prompts.map(generate)
        #expect(Set(serial).count > 1, "the prompts should not all give the same text")
        let concurrent = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (index, prompt) in Self.prompts.enumerated() {
                group.addTask { (index, try generate(prompt)) }
            }
            var results = [String](repeating: "", count: Self.prompts.count)
            for try await (index, text) in group { results[index] = text }
            return results
        }
        #expect(concurrent == serial)
    }
}
