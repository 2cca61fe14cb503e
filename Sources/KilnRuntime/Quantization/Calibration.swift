import Foundation
import KilnCore
import KilnFormats

/// Activation statistics for importance-weighted quantisation (as llama.cpp's imatrix):
/// for every weight matrix, the mean square of each input column over a calibration text.
/// A column that carries large activations makes errors in the weights that read it costly.
package final class Calibration: ActivationObserver {
    private var sums: [String: [Double]] = [:]
    private var counts: [String: Int] = [:]
    package private(set) var tokens = 0

    package init() {}

    package func observe(weight: String, inputs: UnsafePointer<Float>, rows: Int, columns: Int) {
        var sum = sums[weight] ?? [Double](repeating: 0, count: columns)
        guard sum.count == columns else { return }
        for r in 0..<rows {
            let row = inputs + r * columns
            for c in 0..<columns { sum[c] += Double(row[c]) * Double(row[c]) }
        }
        sums[weight] = sum
        counts[weight, default: 0] += rows
    }

    /// Per-column importance for each weight seen: mean of x², floored so no column is ignored.
    package var importance: [String: [Float]] {
        var result: [String: [Float]] = [:]
        for (name, sum) in sums {
            let n = Double(max(counts[name] ?? 1, 1))
            let mean = sum.map { $0 / n }
            let floor = mean.reduce(0, +) / Double(max(mean.count, 1)) * 1e-3 + 1e-12
            result[name] = mean.map { Float(max($0, floor)) }
        }
        return result
    }

    /// Runs `text` through `transformer` in windows of `context` tokens (at most `maxTokens`)
    /// and gathers the statistics.
    package static func collect(transformer: Transformer, tokenizer: BPETokenizer, text: String,
                               context: Int = 512, maxTokens: Int = 8192) throws -> Calibration {
        let calibration = Calibration()
        let ids = Array(tokenizer.encode(text).prefix(maxTokens))
        guard !ids.isEmpty else { throw KilnError(.usage, "the calibration text has no tokens") }
        let state = try InferenceState(transformer: transformer, contextLength: min(context, ids.count))
        state.observer = calibration
        for start in stride(from: 0, to: ids.count, by: state.contextLength) {
            state.reset()
            _ = try state.forward(Array(ids[start..<min(ids.count, start + state.contextLength)]))
            calibration.tokens += min(state.contextLength, ids.count - start)
        }
        return calibration
    }
}
