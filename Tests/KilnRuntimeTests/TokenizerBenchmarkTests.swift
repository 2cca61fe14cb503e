import Foundation
import KilnRuntime
import Testing
import TestSupport

/// Encoding speed on a real text, with SmolLM2's tokenizer. Runs only when asked:
/// `KILN_TOKENIZER_BENCH=/path/to/text swift test -c release --filter TokenizerBenchmark`.
struct TokenizerBenchmarkTests {
    static let textPath = ProcessInfo.processInfo.environment["KILN_TOKENIZER_BENCH"]

    @Test(.enabled(if: textPath != nil, "set KILN_TOKENIZER_BENCH to a text file"))
    func encodeSpeed() throws {
        guard let tokenizer = TokenizerFiles.smolLM2Tokenizer else {
            Issue.record("\(TokenizerFiles.smolLM2) is missing: run Tools/fetch-smollm2.sh")
            return
        }
        let text = String(decoding: try readFile(Self.textPath!), as: UTF8.self)
        let clock = ContinuousClock()
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        // Loading: the spec → tables (vocabulary, merges) step a runtime pays once per model.
        let spec = tokenizer.spec
        let load = clock.measure { _ = try? BPETokenizer(spec) }
        let fresh = try BPETokenizer(spec)
        // The first call also builds the character-class table (once per process).
        let first = clock.measure { _ = fresh.encode("Warm up: 日本語 🦙") }
        var ids: [Int] = []
        // An empty word cache: every distinct piece is merged.
        let cold = clock.measure { ids = fresh.encode(text) }
        // The same text again: pieces come from the cache.
        var warm = Duration.seconds(1000)
        for _ in 0..<5 { warm = min(warm, clock.measure { ids = fresh.encode(text) }) }
        print(String(format: "tokenizer load %.1f ms; first call %.2f ms", seconds(load) * 1e3, seconds(first) * 1e3))
        print(String(format: "encode %d bytes → %d tokens: cold cache %.2f ms (%.0f tokens/s), warm cache %.2f ms (%.0f tokens/s)",
                     text.utf8.count, ids.count, seconds(cold) * 1e3, Double(ids.count) / seconds(cold),
                     seconds(warm) * 1e3, Double(ids.count) / seconds(warm)))
        #expect(tokenizer.decode(ids) == text)

        // Loading the larger vocabularies, when Tools/fetch-vocab-tests.sh has fetched them.
        for name in ["gpt-2", "llama-bpe", "qwen2"] where FileManager.default.fileExists(atPath: TokenizerFiles.vocabulary(name)) {
            let file = try GGUFFile(path: TokenizerFiles.vocabulary(name))
            let spec = try #require(try TokenizerSpec(gguf: file.metadata))
            let load = clock.measure { _ = try? BPETokenizer(spec) }
            print(String(format: "load %@ (%d tokens, %d merges): %.1f ms", name, spec.tokens.count, spec.merges.count, seconds(load) * 1e3))
        }
    }
}
