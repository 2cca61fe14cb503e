import Foundation
import KilnCore

/// How a quantised model's next-token distributions differ from a base model's on the same
/// text, as llama.cpp's `perplexity --kl-divergence` reports it: the mean Kullback–Leibler
/// divergence KL(base ‖ quantised) per scored token, how often both pick the same most likely
/// token, and the change Δp of the probability given to the token that actually comes next.
public struct KLDivergenceSummary: Sendable {
    /// Scored tokens compared.
    public var tokens: Int
    /// Mean KL(base ‖ quantised), in nats: 0 for identical outputs, lower is better.
    public var meanKLD: Double
    /// The standard error of ``meanKLD``.
    public var meanKLDError: Double
    /// KLD percentiles: `[percent: value]` for 1, 5, 10, 50, 90, 95, 99, 99.9 and the maximum (100).
    public var kldPercentiles: [Double: Double]
    /// The share of tokens whose most likely next token is the same in both models (0…1).
    public var sameTop1: Double
    /// Mean Δp = p_quantised − p_base of the actual next token.
    public var meanDeltaP: Double
    /// Root mean square of Δp.
    public var rmsDeltaP: Double
    /// Δp percentiles, as for ``kldPercentiles`` plus the minimum (0).
    public var deltaPPercentiles: [Double: Double]

    static let percents: [Double] = [0, 1, 5, 10, 50, 90, 95, 99, 99.9, 100]
}

/// The base model's log-probabilities for every scored position, saved by
/// `kiln-run perplexity --save-logits` and compared by `--kl-divergence`. Like llama.cpp's
/// file it keeps each position's log-probabilities as 16-bit steps between their minimum and
/// maximum (error ≤ range / 131070), a quarter of f32's size; unlike it, it also keeps the
/// text's tokens, so a comparison on a different text or context length is refused.
///
/// Layout (little-endian): `"KILNLOGP"`, u32 version 1, u32 vocabulary, u32 context,
/// u32 windows, u32 token count n, n × u32 tokens, then for each scored position
/// f32 minimum, f32 step, vocabulary × u16.
enum LogitsFile {
    static let magic = Array("KILNLOGP".utf8)

    final class Writer {
        private let file: AtomicOutputFile
        private let vocabulary: Int
        private var row: [UInt16]

        init(path: String, vocabulary: Int, context: Int, windows: Int, tokens: [Int]) throws {
            file = try AtomicOutputFile(path: path)
            self.vocabulary = vocabulary
            row = [UInt16](repeating: 0, count: vocabulary)
            var header = magic
            for value in [1, vocabulary, context, windows, tokens.count] + tokens { header += u32(value) }
            try file.write(header)
        }

        /// Appends one position's log-probabilities.
        func append(_ logProbabilities: [Float]) throws {
            let low = logProbabilities.min() ?? 0, high = logProbabilities.max() ?? 0
            let step = high > low ? (high - low) / 65535 : 1
            for i in 0..<vocabulary { row[i] = UInt16(((logProbabilities[i] - low) / step).rounded()) }
            try file.write(u32(Int(low.bitPattern)) + u32(Int(step.bitPattern)))
            try row.withUnsafeBytes { try file.write($0) }
        }

        func commit() throws { try file.commit() }
    }

    final class Reader {
        private let mapping: MappedFile
        let vocabulary: Int, context: Int, windows: Int, tokens: [Int]
        private let dataStart: Int

        init(path: String) throws {
            mapping = try MappedFile(path: path)
            let bytes = mapping.bytes
            func word(_ offset: Int) throws -> Int {
                guard offset + 4 <= bytes.count else { throw KilnError(.malformed, "truncated logits file", file: path) }
                return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            }
            guard bytes.count >= 28, Array(bytes[0..<8]) == magic, try word(8) == 1 else {
                throw KilnError(.malformed, "not a logits file written by kiln-run perplexity --save-logits", file: path)
            }
            vocabulary = try word(12); context = try word(16); windows = try word(20)
            let count = try word(24)
            tokens = try (0..<count).map { try word(28 + 4 * $0) }
            dataStart = 28 + 4 * count
            let positions = windows * (context - 1 - context / 2)
            guard bytes.count == dataStart + positions * (8 + 2 * vocabulary) else {
                throw KilnError(.malformed, "logits file has \(bytes.count) bytes, expected \(dataStart + positions * (8 + 2 * vocabulary))", file: path)
            }
        }

        /// The log-probabilities of scored position `index` (in file order).
        func logProbabilities(_ index: Int, into out: inout [Float]) {
            let base = dataStart + index * (8 + 2 * vocabulary)
            let bytes = mapping.bytes
            let low = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: base, as: UInt32.self)))
            let step = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: base + 4, as: UInt32.self)))
            for i in 0..<vocabulary {
                out[i] = low + step * Float(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: base + 8 + 2 * i, as: UInt16.self)))
            }
        }
    }

    private static func u32(_ value: Int) -> [UInt8] {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { Array($0) }
    }
}

/// Accumulates per-token KLD, top-1 agreement and Δp.
struct KLDivergenceAccumulator {
    private var klds: [Double] = []
    private var deltas: [Double] = []
    private var sameTop = 0

    /// Adds one position: `base` and `other` are log-probabilities over the vocabulary.
    mutating func add(base: [Float], other: [Float], next: Int) {
        var kld = 0.0
        var baseTop = 0, otherTop = 0
        for i in base.indices {
            let lb = Double(base[i])
            kld += exp(lb) * (lb - Double(other[i]))
            if base[i] > base[baseTop] { baseTop = i }
            if other[i] > other[otherTop] { otherTop = i }
        }
        klds.append(max(0, kld))
        deltas.append(exp(Double(other[next])) - exp(Double(base[next])))
        if baseTop == otherTop { sameTop += 1 }
    }

    var summary: KLDivergenceSummary {
        let n = Double(max(klds.count, 1))
        let mean = klds.reduce(0, +) / n
        let variance = klds.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(n - 1, 1)
        return KLDivergenceSummary(
            tokens: klds.count, meanKLD: mean, meanKLDError: (variance / n).squareRoot(),
            kldPercentiles: Self.percentiles(klds, KLDivergenceSummary.percents.filter { $0 > 0 }),
            sameTop1: Double(sameTop) / n, meanDeltaP: deltas.reduce(0, +) / n,
            rmsDeltaP: (deltas.reduce(0) { $0 + $1 * $1 } / n).squareRoot(),
            deltaPPercentiles: Self.percentiles(deltas, KLDivergenceSummary.percents))
    }

    /// Nearest-rank percentiles of `values`.
    private static func percentiles(_ values: [Double], _ percents: [Double]) -> [Double: Double] {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return [:] }
        var result: [Double: Double] = [:]
        for p in percents {
            let rank = Int((p / 100 * Double(sorted.count - 1)).rounded())
            result[p] = sorted[min(sorted.count - 1, max(0, rank))]
        }
        return result
    }
}
