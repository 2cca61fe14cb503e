import Foundation
import KilnCore
import KilnFormats
import KilnRuntime
import TestSupport
import Testing

/// Continuous batching's step against the single-sequence path as the reference: sequences of
/// different lengths, prefilled in chunks side by side with others' decode rows, then decoded
/// together, give the logits each one gives when run alone through `InferenceState.forward`
/// (within float rounding: a batch of rows may take other kernel tiles than one row).
struct SequenceBatchTests {
    static let models = [
        "models/tiny-gpt2/model.safetensors", "models/tiny-llama/model.safetensors", "models/tiny-qwen2/model.safetensors",
    ]

    @Test(arguments: models)
    func batchedStepsMatchEachSequenceAlone(_ model: String) throws {
        let transformer = try Transformer(model: try CanonicalModel.open(Repository.fixture(model)))
        try Self.compare(transformer, seed: 7, steps: 6)
    }

    /// The real model (q4_1 weights, interleaved at load): the same agreement.
    @Test(.disabled(if: RealModel.skip)) func realModelBatchedStepsMatch() throws {
        try #require(RealModel.isPresent, Comment(rawValue: RealModel.missingMessage))
        let transformer = try Transformer(model: try CanonicalModel.open(RealModel.path))
        try Self.compare(transformer, seed: 11, steps: 4)
    }

    /// Prompts of 1, 5, 13 and 40 tokens: the first three prefill in one step each alongside
    /// the others, the longest in chunks of 16 while the rest already decode. Then every
    /// sequence decodes `steps` tokens (each the argmax of its own logits) in shared steps.
    static func compare(_ transformer: Transformer, seed: UInt64, steps: Int) throws {
        let vocabulary = transformer.config.vocabulary
        var random = SeededRandom(seed: seed)
        let prompts = [1, 5, 13, 40].map { length in (0..<length).map { _ in Int(random.next() % UInt64(vocabulary)) } }
        let context = 64
        let batch = SequenceBatch(transformer: transformer, maxRows: 40)
        let states = try prompts.map { _ in try InferenceState(transformer: transformer, contextLength: context) }
        var batchedLogits = [[[Float]]](repeating: [], count: prompts.count)
        var fed = [Int](repeating: 0, count: prompts.count)
        var last = [Int](repeating: -1, count: prompts.count)
        while batchedLogits.contains(where: { $0.count < steps + 1 }) {
            var entries: [SequenceBatch.Entry] = [], owners: [Int] = []
            for i in prompts.indices where batchedLogits[i].count < steps + 1 {
                if fed[i] < prompts[i].count {
                    let chunk = Array(prompts[i][fed[i]..<min(prompts[i].count, fed[i] + 16)])
                    fed[i] += chunk.count
                    entries.append(.init(state: states[i], tokens: chunk, wantsLogits: fed[i] == prompts[i].count))
                } else {
                    entries.append(.init(state: states[i], tokens: [last[i]]))
                }
                owners.append(i)
            }
            for (i, logits) in zip(owners, try batch.step(entries)) {
                guard let logits else { continue }
                batchedLogits[i].append(logits)
                last[i] = Sampler.argmax(logits)
            }
        }

        for (i, prompt) in prompts.enumerated() {
            let alone = try InferenceState(transformer: transformer, contextLength: context)
            var logits = try alone.forward(prompt)
            for step in 0...steps {
                let got = batchedLogits[i][step]
                let scale = logits.map { abs($0) }.max() ?? 1
                var difference: Float = 0
                for j in 0..<vocabulary { difference = max(difference, abs(got[j] - logits[j])) }
                #expect(difference <= 1e-4 * max(scale, 1), "sequence \(i) step \(step): max |Δ| \(difference), scale \(scale)")
                if step < steps { logits = try alone.forward([Sampler.argmax(got)]) }
            }
            #expect(states[i].tokens == alone.tokens)
        }
    }

    @Test func badEntriesThrowAndRunNothing() throws {
        let transformer = try Transformer(model: try CanonicalModel.open(Repository.fixture(Self.models[1])))
        let batch = SequenceBatch(transformer: transformer, maxRows: 4)
        let a = try InferenceState(transformer: transformer, contextLength: 3)
        let b = try InferenceState(transformer: transformer, contextLength: 8)
        #expect(throws: KilnError.self) { try batch.step([.init(state: a, tokens: [1, 2, 3, 4])]) }  // context
        #expect(throws: KilnError.self) { try batch.step([.init(state: b, tokens: [1, 2, 3, 4, 5])]) }  // rows
        #expect(throws: KilnError.self) { try batch.step([.init(state: b, tokens: [1]), .init(state: b, tokens: [2])]) }
        #expect(throws: KilnError.self) { try batch.step([.init(state: b, tokens: [transformer.config.vocabulary])]) }
        #expect(throws: KilnError.self) { try batch.step([.init(state: b, tokens: [])]) }
        #expect(a.position == 0 && b.position == 0)
        #expect(try batch.step([.init(state: a, tokens: [1, 2], wantsLogits: false), .init(state: b, tokens: [3])]).map { $0?.count }
            == [nil, transformer.config.vocabulary])
    }
}
