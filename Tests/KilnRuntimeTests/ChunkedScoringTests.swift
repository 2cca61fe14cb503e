import Foundation
import KilnCore
import KilnFormats
import KilnRuntime
import TestSupport
import Testing

/// Perplexity's chunked scoring (`InferenceState.forward(_:logitsFrom:receive:)`) against the
/// whole-window path it replaced: the same rows, in order, with the same logits (within float
/// rounding: the output head runs on fewer rows at a time), across several prompt chunks, for a
/// plain and a sliding-window model.
struct ChunkedScoringTests {
    @Test(arguments: ["models/tiny-llama/model.safetensors", "models/tiny-mistral-swa/model.safetensors"])
    func scoredRowsMatchTheWholeWindow(_ model: String) throws {
        let transformer = try Transformer(model: try CanonicalModel.open(Repository.fixture(model)))
        let vocabulary = transformer.config.vocabulary
        var random = SeededRandom(seed: 21)
        let tokens = (0..<40).map { _ in Int(random.next() % UInt64(vocabulary)) }
        let whole = try InferenceState(transformer: transformer, contextLength: 40, maxBatch: 8).forward(tokens, allLogits: true)
        let scale = whole.map { abs($0) }.max()!
        let state = try InferenceState(transformer: transformer, contextLength: 40, maxBatch: 8)
        var seen: [Int] = []
        try state.forward(tokens, logitsFrom: 17) { row, logits in
            seen.append(row)
            let error = (0..<vocabulary).map { abs(logits[$0] - whole[row * vocabulary + $0]) }.max()! / scale
            #expect(error <= 1e-5, "\(model) row \(row): relative error \(error)")
        }
        #expect(seen == Array(17..<40))
        #expect(state.position == 40)
    }
}
