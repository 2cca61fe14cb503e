import Foundation
import KilnCore
import KilnFormats
import KilnRuntime
import TestSupport
import Testing

/// The architectures beyond plain Llama against `transformers` (Tools/make_arch_fixtures.py):
/// Qwen3 (q/k norms, head size independent of width), Gemma 3 ((1 + w) norms, post-norms, GeGLU,
/// √d embedding, interleaved sliding-window and global layers with their own RoPE bases,
/// query_pre_attn_scalar, logit soft-capping), Llama 3 RoPE scaling and Mistral's sliding window
/// with YaRN. Windows are 5 and 6 positions, the longest prompt 33: the ring caches wrap several
/// times. Every path through the cache must agree to 1e-4 of the largest logit.
struct ArchitectureLogitsTests {
    static let cases: [(model: String, reference: String)] = [
        ("models/tiny-qwen3/model.safetensors", "tiny_qwen3_logits"),
        ("models/tiny-gemma3/model.safetensors", "tiny_gemma3_logits"),
        ("models/tiny-llama3-rope/model.safetensors", "tiny_llama3_rope_logits"),
        ("models/tiny-mistral-swa/model.safetensors", "tiny_mistral_swa_logits"),
    ]
    static let tolerance: Float = 1e-4

    struct Reference {
        let vocabulary: Int
        let sequences: [(ids: [Int], logits: [Float])]
        var scale: Float { sequences.flatMap(\.logits).map(abs).max() ?? 1 }
    }

    static func reference(_ name: String) throws -> Reference {
        let json = try readJSON(Repository.fixture("expected/\(name).json"))
        let vocabulary = try #require(json["vocab_size"]?.intValue)
        let sequences = try #require(json["sequences"]?.arrayValue).map { sequence in
            (ids: try #require(sequence["ids"]?.arrayValue).compactMap(\.intValue),
             logits: try #require(sequence["logits"]?.arrayValue).compactMap { $0.doubleValue.map(Float.init) })
        }
        return Reference(vocabulary: vocabulary, sequences: sequences)
    }

    /// The largest difference between `got` and `want`, relative to the largest reference logit.
    static func relativeError(_ got: [Float], _ want: ArraySlice<Float>, scale: Float) -> Float {
        zip(got, want).map { abs($0 - $1) }.max().map { $0 / scale } ?? .infinity
    }

    static func check(_ transformer: Transformer, _ reference: Reference, label: String) throws -> Float {
        let v = reference.vocabulary, scale = reference.scale
        var worst: Float = 0
        for (ids, want) in reference.sequences {
            // Chunks of 16 and 3 rows (longer and shorter than the windows), and one at a time.
            for maxBatch in [16, 3] {
                let state = try InferenceState(transformer: transformer, contextLength: ids.count, maxBatch: maxBatch)
                let got = try state.forward(ids, allLogits: true)
                let error = relativeError(got, want[...], scale: scale)
                #expect(error <= tolerance, "\(label) \(ids.count) tokens in chunks of \(maxBatch): relative error \(error)")
                worst = max(worst, error)
            }
            let state = try InferenceState(transformer: transformer, contextLength: ids.count)
            for (position, id) in ids.enumerated() {
                let got = try state.forward([id])
                let error = relativeError(got, want[(position * v)..<((position + 1) * v)], scale: scale)
                #expect(error <= tolerance, "\(label) token \(position) decoded alone: relative error \(error)")
                worst = max(worst, error)
            }
        }
        return worst
    }

    @Test(arguments: cases)
    func logitsMatchTransformers(_ model: String, _ reference: String) throws {
        let transformer = try Transformer(model: try CanonicalModel.open(Repository.fixture(model)))
        let worst = try Self.check(transformer, try Self.reference(reference), label: model)
        print("\(model): max relative logit error \(worst) (prefill chunks of 16 and 3, decode)")
    }

    /// Continuous batching: a long prompt prefilled in pieces beside a short one decoding, every
    /// step's last logits against the reference.
    @Test(arguments: cases)
    func sequenceBatchMatchesTransformers(_ model: String, _ reference: String) throws {
        let transformer = try Transformer(model: try CanonicalModel.open(Repository.fixture(model)))
        let r = try Self.reference(reference), v = r.vocabulary
        let (long, longLogits) = r.sequences[1], (short, shortLogits) = r.sequences[0]
        let batch = SequenceBatch(transformer: transformer, maxRows: 32)
        let a = try InferenceState(transformer: transformer, contextLength: long.count)
        let b = try InferenceState(transformer: transformer, contextLength: long.count)
        // Step 1: 20 prompt rows of A (more than a window) beside B's first token.
        var steps: [(a: Range<Int>, b: Range<Int>)] = [(0..<20, 0..<1)]
        for i in 20..<long.count { steps.append((i..<(i + 1), min(i - 19, short.count)..<min(i - 18, short.count))) }
        for step in steps {
            var entries = [SequenceBatch.Entry(state: a, tokens: Array(long[step.a]))]
            if !step.b.isEmpty { entries.append(.init(state: b, tokens: Array(short[step.b]))) }
            let out = try batch.step(entries)
            let lastA = step.a.upperBound - 1
            let errorA = Self.relativeError(try #require(out[0]), longLogits[(lastA * v)..<((lastA + 1) * v)], scale: r.scale)
            #expect(errorA <= Self.tolerance, "\(model) batch step at \(lastA): \(errorA)")
            if !step.b.isEmpty {
                let lastB = step.b.upperBound - 1
                let errorB = Self.relativeError(try #require(out[1]), shortLogits[(lastB * v)..<((lastB + 1) * v)], scale: r.scale)
                #expect(errorB <= Self.tolerance, "\(model) batch step, short sequence at \(lastB): \(errorB)")
            }
        }
    }

    /// Converted to GGUF (llama.cpp's names and keys, Gemma's norms stored as 1 + w), the model
    /// gives the same logits.
    @Test(arguments: [cases[0], cases[1], cases[3]])
    func ggufConversionGivesTheSameLogits(_ model: String, _ reference: String) throws {
        let directory = TemporaryDirectory()
        let output = directory.file("model.gguf")
        try Conversion.convert(try CanonicalModel.open(Repository.fixture(model)), to: GGUFWriter(), output: output)
        let converted = try CanonicalModel.open(output)
        let source = try CanonicalModel.open(Repository.fixture(model))
        #expect(converted.config?.features == source.config?.features)
        let worst = try Self.check(try Transformer(model: converted), try Self.reference(reference), label: "\(model) as GGUF")
        print("\(model) as GGUF: max relative logit error \(worst)")
    }

    /// A rewind within a sliding window's spare slots keeps the cache; a longer one starts over.
    @Test func rewindingASlidingWindowCache() throws {
        let (model, name) = Self.cases[3]
        let transformer = try Transformer(model: try CanonicalModel.open(Repository.fixture(model)))
        let r = try Self.reference(name), v = r.vocabulary
        let (ids, want) = r.sequences[1]
        let state = try InferenceState(transformer: transformer, contextLength: ids.count)
        _ = try state.forward(ids)
        state.truncate(to: ids.count - 4)
        #expect(state.position == ids.count - 4)
        let again = try state.forward(Array(ids[(ids.count - 4)...]), allLogits: true)
        #expect(Self.relativeError(again, want[((ids.count - 4) * v)...], scale: r.scale) <= Self.tolerance)
        state.truncate(to: 10)
        #expect(state.position == 0, "the ring no longer holds positions 4 … 9")
    }

    /// Config from config.json and from GGUF metadata: the features each architecture needs.
    @Test func featuresAreNamed() throws {
        let gemma = try #require(try CanonicalModel.open(Repository.fixture("models/tiny-gemma3/model.safetensors")).config)
        #expect(gemma.architecture == "gemma3")
        #expect(gemma.features == [.queryKeyNorm, .postNorms, .embeddingScale, .geluGate, .queryScale, .logitSoftcap,
                                   .slidingWindow, .localRopeBase])
        #expect(gemma.localLayers == [true, false, true, true] && gemma.slidingWindow == 5)
        #expect(gemma.localRopeBase == 10_000 && gemma.ropeBase == 50_000)
        let qwen = try #require(try CanonicalModel.open(Repository.fixture("models/tiny-qwen3/model.safetensors")).config)
        #expect(qwen.features == [.queryKeyNorm] && qwen.headDim == 32 && !qwen.tiedEmbeddings)
        let llama = try #require(try CanonicalModel.open(Repository.fixture("models/tiny-llama3-rope/model.safetensors")).config)
        #expect(llama.ropeScaling == .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 64))
        let mistral = try #require(try CanonicalModel.open(Repository.fixture("models/tiny-mistral-swa/model.safetensors")).config)
        #expect(mistral.features == [.slidingWindow, .yarnRope] && mistral.isLocal(layer: 1))
    }

    /// Granite's multipliers are not implemented: refused by name, not run wrong.
    @Test func graniteIsRefusedByFeature() throws {
        let directory = TemporaryDirectory()
        var config = try String(contentsOfFile: Repository.fixture("models/tiny-llama/config.json"), encoding: .utf8)
        config = config.replacingOccurrences(of: "\"model_type\": \"llama\"", with: "\"model_type\": \"granite\"")
        try config.write(toFile: directory.file("config.json"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Repository.fixture("models/tiny-llama/model.safetensors"),
                                         toPath: directory.file("model.safetensors"))
        let model = try CanonicalModel.open(directory.file("model.safetensors"))
        #expect(model.config?.architecture == "granite")
        let error = try #require(throws: KilnError.self) { try Transformer(model: model) }
        #expect(error.message.contains("granite-multipliers"), "\(error.message)")
        #expect(error.message.contains("gemma3") && error.message.contains("qwen3"), "\(error.message)")
    }

    /// A q/k norm the config does not declare is refused rather than ignored.
    @Test func undeclaredQueryKeyNormIsRefused() throws {
        let directory = TemporaryDirectory()
        var config = try String(contentsOfFile: Repository.fixture("models/tiny-qwen3/config.json"), encoding: .utf8)
        config = config.replacingOccurrences(of: "\"model_type\": \"qwen3\"", with: "\"model_type\": \"qwen2\"")
        try config.write(toFile: directory.file("config.json"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Repository.fixture("models/tiny-qwen3/model.safetensors"),
                                         toPath: directory.file("model.safetensors"))
        let error = try #require(throws: KilnError.self) {
            try Transformer(model: try CanonicalModel.open(directory.file("model.safetensors")))
        }
        #expect(error.message.contains("attn_q_norm"), "\(error.message)")
    }
}
