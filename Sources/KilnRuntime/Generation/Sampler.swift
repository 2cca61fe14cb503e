import Foundation
import KilnKernels

/// How the next token is chosen from the logits.
public struct SamplingOptions: Sendable, Equatable {
    /// 0 (or less) picks the most likely token every time (greedy).
    public var temperature: Float = 0.8
    /// Keep only the `topK` most likely tokens; 0 keeps all.
    public var topK: Int = 40
    /// Keep the smallest set of tokens whose probabilities add up to `topP`; 1 keeps all.
    public var topP: Float = 0.95
    /// Drop tokens less likely than `minP` × the most likely one; 0 keeps all.
    public var minP: Float = 0.05
    /// Divide the logits of recently seen tokens (positive ones; multiply negative ones) by this.
    public var repetitionPenalty: Float = 1.0
    /// How many recent tokens the repetition penalty looks at.
    public var repetitionWindow: Int = 64
    /// Seed for reproducible sampling; nil seeds from the system.
    public var seed: UInt64?

    /// Options with each field as documented; the defaults are llama.cpp's.
    public init(temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repetitionPenalty: Float = 1.0, repetitionWindow: Int = 64, seed: UInt64? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.seed = seed
    }

    /// Always the most likely token: deterministic output.
    public static let greedy = SamplingOptions(temperature: 0)
}

/// Picks tokens from logits: repetition penalty, then greedy or top-k → temperature → top-p →
/// min-p → a draw from a seeded generator (the order llama.cpp's default chain uses).
public struct Sampler: Sendable {
    /// The options it samples with.
    public let options: SamplingOptions
    private var random: Xoshiro256

    /// A sampler seeded from `options.seed`, or from the system when it is nil.
    public init(_ options: SamplingOptions) {
        self.options = options
        random = Xoshiro256(seed: options.seed ?? UInt64.random(in: 0...UInt64.max))
    }

    /// Picks the next token id from `logits` (one per vocabulary entry); `recent` are the
    /// tokens so far, for the repetition penalty.
    public mutating func sample(_ logits: [Float], recent: ArraySlice<Int> = []) -> Int {
        var logits = logits
        if options.repetitionPenalty != 1 {
            for token in Set(recent.suffix(options.repetitionWindow)) where token < logits.count {
                let l = logits[token]
                logits[token] = l > 0 ? l / options.repetitionPenalty : l * options.repetitionPenalty
            }
        }
        if options.temperature <= 0 { return Self.argmax(logits) }

        // Candidates sorted by logit; ties broken by id so results are reproducible.
        var candidates = Array(logits.indices)
        let k = options.topK > 0 ? min(options.topK, logits.count) : logits.count
        if k < logits.count {
            candidates = Self.topIndices(logits, k)
        } else {
            candidates.sort { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        }
        let maxLogit = logits[candidates[0]]
        var probabilities = candidates.map { expf((logits[$0] - maxLogit) / options.temperature) }
        let total = probabilities.reduce(0, +)
        for i in probabilities.indices { probabilities[i] /= total }

        var keep = probabilities.count
        if options.topP < 1 {
            var cumulative: Float = 0
            for (i, p) in probabilities.enumerated() {
                cumulative += p
                if cumulative >= options.topP { keep = i + 1; break }
            }
        }
        if options.minP > 0 {
            let threshold = options.minP * probabilities[0]
            keep = min(keep, max(1, probabilities.prefix(keep).firstIndex { $0 < threshold } ?? keep))
        }
        let kept = probabilities.prefix(keep)
        var draw = Float(random.nextUnitDouble()) * kept.reduce(0, +)
        for (i, p) in kept.enumerated() {
            draw -= p
            if draw <= 0 { return candidates[i] }
        }
        return candidates[keep - 1]
    }

    /// The first index of the largest logit (a vectorised scan: it runs once per token per sequence).
    package static func argmax(_ logits: [Float]) -> Int {
        logits.withUnsafeBufferPointer { $0.baseAddress.map { Kernels.argmax($0, count: logits.count) } ?? 0 }
    }

    /// The indices of the `k` largest values, largest first (ties by lower index).
    package static func topIndices(_ values: [Float], _ k: Int) -> [Int] {
        guard k > 0 else { return [] }
        // A small sorted buffer beats sorting the whole vocabulary for the k of sampling.
        var top: [Int] = []
        top.reserveCapacity(k + 1)
        for i in values.indices {
            if top.count == k, values[i] <= values[top[k - 1]] { continue }
            var position = top.count
            while position > 0, values[top[position - 1]] < values[i] { position -= 1 }
            top.insert(i, at: position)
            if top.count > k { top.removeLast() }
        }
        return top
    }
}

/// xoshiro256** (Blackman & Vigna): small, fast and the same on every platform, so a seed
/// gives the same text everywhere.
struct Xoshiro256: Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}
