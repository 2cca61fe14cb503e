import Foundation
import KilnCore

/// Perplexity computed the way llama.cpp's `perplexity` tool does, so the numbers compare:
/// the text is cut into windows of `context` tokens; each window is evaluated from an empty
/// cache (with BOS replacing its first token when the model adds BOS), and only the second
/// half of each window is scored, so every scored token has at least context/2 of history.
public struct PerplexityResult: Sendable {
    /// exp of the mean negative log-likelihood of the scored tokens: lower is better.
    public var perplexity: Double
    /// Tokens whose likelihood was scored.
    public var scoredTokens: Int
    /// Windows of `context` tokens evaluated (the text's tail shorter than a window is left out).
    public var windows: Int
    /// Wall-clock time, in seconds.
    public var seconds: Double
    /// The comparison with a base model's saved distributions, when one was asked for.
    public var klDivergence: KLDivergenceSummary?
}

/// What ``LanguageModel/perplexity(text:context:logits:progress:)`` does with the model's full
/// next-token distributions besides scoring the text.
public enum LogitsComparison: Sendable {
    /// Saves them to a file at this path (the base model's run).
    case save(String)
    /// Compares them with those saved from a base model at this path, on the same text and
    /// context length: the result's ``PerplexityResult/klDivergence``.
    case compare(String)
}

extension LanguageModel {
    /// The model's perplexity on `text`, computed as ``PerplexityResult`` describes with
    /// windows of `context` tokens; with `logits`, also saves or compares the distributions.
    /// `progress` receives (windows done, windows total, the perplexity so far).
    ///
    /// - Throws: ``/KilnCore/KilnError`` (`.usage`) if `context` is below 8, the text is shorter than
    ///   one window, or a base logits file was made from another text, context or vocabulary;
    ///   (`.malformed`) if it is not such a file.
    public func perplexity(text: String, context: Int = 512, logits comparison: LogitsComparison? = nil,
                           progress: ((Int, Int, Double) -> Void)? = nil) throws -> PerplexityResult {
        guard context >= 8 else { throw KilnError(.usage, "--ctx must be at least 8") }
        let tokens = promptTokens(text)
        let windows = tokens.count / context
        guard windows > 0 else {
            throw KilnError(.usage, "the text has \(tokens.count) tokens, fewer than one window of \(context)")
        }
        let start = DispatchTime.now()
        let state = try makeState(contextLength: context)
        let first = context / 2
        let vocabulary = config.vocabulary
        var negativeLogLikelihood = 0.0
        var count = 0
        var saver: LogitsFile.Writer?, base: LogitsFile.Reader?
        var accumulator = KLDivergenceAccumulator()
        var ours = [Float](repeating: 0, count: vocabulary), theirs = ours
        switch comparison {
        case .save(let path):
            saver = try LogitsFile.Writer(path: path, vocabulary: vocabulary, context: context, windows: windows,
                                          tokens: Array(tokens[0..<(windows * context)]))
        case .compare(let path):
            let reader = try LogitsFile.Reader(path: path)
            guard reader.vocabulary == vocabulary, reader.context == context, reader.windows == windows,
                  reader.tokens == Array(tokens[0..<(windows * context)])
            else { throw KilnError(.usage, "the base logits were saved from another text, context length or vocabulary", file: path) }
            base = reader
        case nil: break
        }
        for window in 0..<windows {
            var chunk = Array(tokens[(window * context)..<((window + 1) * context)])
            if tokenizer.spec.addBOS, let bos = tokenizer.spec.bosID { chunk[0] = bos }
            state.reset()
            // Scored chunk by chunk as the rows come out of the model, so a window's logits are
            // never all in memory (4,096 rows × a 49,152-token vocabulary would be 800 MB).
            try state.forward(chunk, logitsFrom: first) { position, logits in
                guard position < context - 1 else { return }
                let row = UnsafeBufferPointer(start: logits, count: vocabulary)
                negativeLogLikelihood -= Self.logSoftmax(row, at: chunk[position + 1])
                if saver != nil || base != nil { Self.logSoftmax(row, into: &ours) }
                try saver?.append(ours)
                if let base {
                    base.logProbabilities(count, into: &theirs)
                    accumulator.add(base: theirs, other: ours, next: chunk[position + 1])
                }
                count += 1
            }
            progress?(window + 1, windows, exp(negativeLogLikelihood / Double(count)))
        }
        try saver?.commit()
        return PerplexityResult(perplexity: exp(negativeLogLikelihood / Double(count)), scoredTokens: count,
                                windows: windows, seconds: seconds(since: start), klDivergence: base == nil ? nil : accumulator.summary)
    }

    /// log softmax(row)[target], in double precision.
    static func logSoftmax(_ row: UnsafeBufferPointer<Float>, at target: Int) -> Double {
        let maximum = Double(row.max() ?? 0)
        var sum = 0.0
        for value in row { sum += exp(Double(value) - maximum) }
        return Double(row[target]) - maximum - log(sum)
    }

    /// The whole log softmax of `row`, computed in double precision.
    static func logSoftmax(_ row: UnsafeBufferPointer<Float>, into out: inout [Float]) {
        let maximum = Double(row.max() ?? 0)
        var sum = 0.0
        for value in row { sum += exp(Double(value) - maximum) }
        let shift = maximum + log(sum)
        for (i, value) in zip(out.indices, row) { out[i] = Float(Double(value) - shift) }
    }
}
