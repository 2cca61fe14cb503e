import Foundation
import KilnCore
import KilnFormats
import KilnRuntime
import TestSupport
import Testing

/// Logits against `transformers` on the same f32 weights (Tools/make_reference_logits.py):
/// GPT-2 (safetensors and PyTorch), Llama with GQA, Llama with a tied head and one KV head,
/// and Qwen2 with q/k/v biases and neox RoPE. Both a whole-sequence forward pass (matrix ×
/// matrix) and token-by-token decoding through the KV cache must agree to 1e-3 relative.
struct ReferenceLogitsTests {
    static let cases: [(model: String, reference: String)] = [
        ("models/tiny-gpt2/model.safetensors", "tiny_gpt2_logits"),
        ("models/tiny-gpt2-pt/pytorch_model.bin", "tiny_gpt2_logits"),
        ("models/tiny-llama/model.safetensors", "tiny_llama_logits"),
        ("models/tiny-llama-tied/model.safetensors", "tiny_llama_tied_logits"),
        ("models/tiny-qwen2/model.safetensors", "tiny_qwen2_logits"),
    ]

    @Test(arguments: cases)
    func logitsMatchTransformers(_ model: String, _ reference: String) throws {
        let transformer = try Transformer(model: try CanonicalModel.open(Repository.fixture(model)))
        let expected = try readJSON(Repository.fixture("expected/\(reference).json"))
        let vocabulary = try #require(expected["vocab_size"]?.intValue)
        #expect(transformer.config.vocabulary == vocabulary)
        for sequence in try #require(expected["sequences"]?.arrayValue) {
            let ids = try #require(sequence["ids"]?.arrayValue).compactMap(\.intValue)
            let want = try #require(sequence["logits"]?.arrayValue).compactMap { $0.doubleValue.map(Float.init) }
            #expect(want.count == ids.count * vocabulary)

            let batched = try InferenceState(transformer: transformer, contextLength: ids.count, maxBatch: 16)
            let all = try batched.forward(ids, allLogits: true)
            let stepwise = try InferenceState(transformer: transformer, contextLength: ids.count)
            var decoded: [Float] = []
            for id in ids { decoded += try stepwise.forward([id]) }

            for (label, got) in [("batched", all), ("decoded", decoded)] {
                let scale = want.map { abs($0) }.max() ?? 1
                var maxDifference: Float = 0
                var top1Agreement = 0
                for position in ids.indices {
                    let row = position * vocabulary
                    let a = Array(got[row..<(row + vocabulary)]), b = Array(want[row..<(row + vocabulary)])
                    for i in 0..<vocabulary { maxDifference = max(maxDifference, abs(a[i] - b[i])) }
                    if Sampler.argmax(a) == Sampler.argmax(b) { top1Agreement += 1 }
                }
                print("\(model) [\(ids.count) tokens, \(label)]: max |Δlogit| = \(maxDifference) (scale \(scale)), top-1 agreement \(top1Agreement)/\(ids.count)")
                #expect(maxDifference <= 1e-3 * scale, "\(model) \(label): max difference \(maxDifference) against logits up to \(scale)")
                #expect(top1Agreement == ids.count, "\(model) \(label)")
            }
        }
    }

    /// The converted `.kiln` file gives the same logits as its source (canonical mapping, q/k
    /// interleave and GPT-2 transposes written once, at conversion).
    @Test(arguments: [cases[0], cases[2], cases[4]])
    func convertedModelGivesTheSameLogits(_ model: String, _ reference: String) throws {
        let directory = TemporaryDirectory()
        let output = directory.file("model.kiln")
        let source = try CanonicalModel.open(Repository.fixture(model))
        _ = try Conversion.toKiln(source, output: output)
        let ids = [3, 1, 4, 1, 5, 9, 2, 6]
        let a = try InferenceState(transformer: try Transformer(model: source), contextLength: 8).forward(ids, allLogits: true)
        let b = try InferenceState(transformer: try Transformer(model: try CanonicalModel.open(output)), contextLength: 8)
            .forward(ids, allLogits: true)
        #expect(a == b)
    }
}

/// The f16 KV cache gives the f32 cache's logits up to f16 rounding of keys and values.
struct HalfPrecisionCacheTests {
    @Test func f16CacheMatchesF32Cache() throws {
        let transformer = try Transformer(model: try CanonicalModel.open(Repository.fixture("models/tiny-llama/model.safetensors")))
        let ids = [5, 17, 2, 9, 250, 31, 8, 100, 3, 77]
        let full = try InferenceState(transformer: transformer, contextLength: ids.count)
        let half = try InferenceState(transformer: transformer, contextLength: ids.count, halfPrecisionCache: true)
        #expect(half.kvCacheBytes * 2 == full.kvCacheBytes)
        var maximum: Float = 0, scale: Float = 0
        for id in ids {
            let a = try full.forward([id]), b = try half.forward([id])
            for i in a.indices { maximum = max(maximum, abs(a[i] - b[i])); scale = max(scale, abs(a[i])) }
            #expect(Sampler.argmax(a) == Sampler.argmax(b))
        }
        #expect(maximum > 0, "the f16 path must actually be taken")
        #expect(maximum <= 5e-3 * scale, "f16 cache moved logits by \(maximum) (scale \(scale))")
    }
}
