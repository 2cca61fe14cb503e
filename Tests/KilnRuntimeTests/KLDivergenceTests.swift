import Foundation
import KilnCore
@testable import KilnRuntime
import TestSupport
import Testing

/// The KL-divergence statistics against a direct computation in the test, and the base-logits
/// file's round trip within its stated 16-bit error.
struct KLDivergenceTests {
    /// Random log-softmax rows over a vocabulary of `n`.
    static func logProbabilities(_ n: Int, _ random: inout SeededRandom, sharpness: Float) -> [Float] {
        let logits = (0..<n).map { _ in Float.random(in: -1...1, using: &random) * sharpness }
        let maximum = Double(logits.max()!)
        let total = logits.reduce(0.0) { $0 + exp(Double($1) - maximum) }
        return logits.map { Float(Double($0) - maximum - log(total)) }
    }

    @Test func statisticsMatchADirectComputation() {
        var random = SeededRandom(seed: 13)
        var accumulator = KLDivergenceAccumulator()
        var klds: [Double] = [], deltas: [Double] = [], same = 0
        for position in 0..<200 {
            let base = Self.logProbabilities(50, &random, sharpness: 4)
            // The "quantised" model: the base's logits plus noise, renormalised.
            let noisy = base.map { $0 + Float.random(in: -0.3...0.3, using: &random) }
            let total = noisy.reduce(0.0) { $0 + exp(Double($1)) }
            let other = noisy.map { Float(Double($0) - log(total)) }
            let next = position % 50
            accumulator.add(base: base, other: other, next: next)
            var kld = 0.0
            for i in 0..<50 { kld += exp(Double(base[i])) * (Double(base[i]) - Double(other[i])) }
            klds.append(kld)
            deltas.append(exp(Double(other[next])) - exp(Double(base[next])))
            if base.firstIndex(of: base.max()!) == other.firstIndex(of: other.max()!) { same += 1 }
        }
        let summary = accumulator.summary
        #expect(summary.tokens == 200)
        #expect(abs(summary.meanKLD - klds.reduce(0, +) / 200) < 1e-12)
        #expect(summary.meanKLD > 0.01)
        #expect(summary.sameTop1 == Double(same) / 200)
        #expect(abs(summary.meanDeltaP - deltas.reduce(0, +) / 200) < 1e-12)
        #expect(summary.kldPercentiles[100] == klds.max())
        #expect(summary.deltaPPercentiles[0] == deltas.min())
        let median = klds.sorted()[100]  // nearest rank of 0.5 × 199
        #expect(summary.kldPercentiles[50] == median)
    }

    @Test func identicalDistributionsHaveNoDivergence() {
        var random = SeededRandom(seed: 14)
        var accumulator = KLDivergenceAccumulator()
        for _ in 0..<10 {
            let row = Self.logProbabilities(64, &random, sharpness: 6)
            accumulator.add(base: row, other: row, next: 3)
        }
        #expect(accumulator.summary.meanKLD == 0 && accumulator.summary.sameTop1 == 1 && accumulator.summary.rmsDeltaP == 0)
    }

    @Test func logitsFileRoundTripsWithinItsStep() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("base.logits")
        var random = SeededRandom(seed: 15)
        let vocabulary = 40, context = 16, windows = 2
        let rows = (0..<(windows * (context - 1 - context / 2))).map { _ in Self.logProbabilities(vocabulary, &random, sharpness: 8) }
        let tokens = (0..<(windows * context)).map { $0 % vocabulary }
        let writer = try LogitsFile.Writer(path: path, vocabulary: vocabulary, context: context, windows: windows, tokens: tokens)
        for row in rows { try writer.append(row) }
        try writer.commit()
        let reader = try LogitsFile.Reader(path: path)
        #expect(reader.vocabulary == vocabulary && reader.context == context && reader.windows == windows && reader.tokens == tokens)
        var back = [Float](repeating: 0, count: vocabulary)
        for (index, row) in rows.enumerated() {
            reader.logProbabilities(index, into: &back)
            let range = row.max()! - row.min()!
            for (a, b) in zip(row, back) { #expect(abs(a - b) <= range / 131_070 * 1.01, "position \(index)") }
        }
        // Anything else is refused.
        try Data("KILNLOGX".utf8).write(to: URL(fileURLWithPath: directory.file("bad.logits")))
        #expect(throws: KilnError.self) { try LogitsFile.Reader(path: directory.file("bad.logits")) }
    }
}
