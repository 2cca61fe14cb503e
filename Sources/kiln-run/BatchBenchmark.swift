import Foundation
import Kiln
import KilnCommandLine

/// Continuous batching's ceiling, without HTTP: `sequences` sequences, each after its own
/// random prompt of `promptTokens`, decode `generatedTokens` tokens in shared `SequenceBatch`
/// steps (greedy, never stopping early), against one sequence decoded the same way. Reports
/// aggregate tokens/s for both and their ratio (`kiln-run bench MODEL --sequences 8`).
struct BatchBenchmark {
    let transformer: Transformer
    let promptTokens: Int
    let generatedTokens: Int
    let sequences: Int
    /// f16 KV caches (`--kv-cache f16`).
    let halfPrecisionCache: Bool
    let log: Bool

    func run() throws -> JSONValue {
        let one = try measure(1), many = try measure(sequences)
        if log {
            print(String(format: "batched decode: 1 sequence %.1f tok/s · %d sequences %.1f tok/s aggregate (×%.2f)",
                         one, sequences, many, many / one))
        }
        return .object(["sequences": .int(Int64(sequences)), "single_tokens_per_second": .double(one),
                        "batched_tokens_per_second": .double(many), "speedup": .double(many / one)])
    }

    /// Aggregate generated tokens per second of `count` sequences decoding together.
    private func measure(_ count: Int) throws -> Double {
        let vocabulary = transformer.config.vocabulary
        var random = SplitMix(seed: 7)
        let batch = SequenceBatch(transformer: transformer, maxRows: max(count, promptTokens))
        let states = try (0..<count).map { _ in try InferenceState(transformer: transformer, contextLength: promptTokens + generatedTokens + 1, maxBatch: 1,
                                                                   halfPrecisionCache: halfPrecisionCache) }
        var next: [Int] = []
        for state in states {
            let prompt = (0..<promptTokens).map { _ in Int(random.next() % UInt64(vocabulary)) }
            next.append(Sampler.argmax(try batch.step([.init(state: state, tokens: prompt)])[0]!))
        }
        let start = DispatchTime.now()
        for _ in 0..<generatedTokens {
            let logits = try batch.step(zip(states, next).map { .init(state: $0, tokens: [$1]) })
            next = logits.map { Sampler.argmax($0!) }
        }
        return Double(count * generatedTokens) / seconds(since: start)
    }
}
