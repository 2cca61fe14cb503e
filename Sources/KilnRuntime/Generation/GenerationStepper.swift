/// One sequence's generation after its prompt, a token at a time, with the model run elsewhere:
/// given the logits after the last token it picks the next one, turns it into text once its
/// UTF-8 is complete, holds back text that could be the start of a stop string, and says when
/// to stop (EOS, a stop string, the token limit, a full context). `Generator` drives it with one
/// `InferenceState`; the server drives many side by side through a `SequenceBatch`, so both give
/// the same text for the same logits.
package struct GenerationStepper: Sendable {
    package let options: GenerationOptions
    private var sampler: Sampler
    private var history: [Int]
    private var decoder: StreamingDecoder
    private var pending = ""  // text held back while it could be the start of a stop string
    private let endTokens: Set<Int>
    private let contextLength: Int
    package private(set) var generatedTokens = 0
    /// The tokens generated so far, in order.
    package private(set) var generatedIDs: [Int] = []
    /// Set once the generation has ended.
    package private(set) var stopReason: StopReason?

    /// `prompt`: the tokens the state holds before the first `next` (for the repetition
    /// penalty and the context check); `contextLength`: the state's.
    package init(tokenizer: BPETokenizer, prompt: [Int], options: GenerationOptions, contextLength: Int) {
        self.options = options
        sampler = Sampler(options.sampling)
        history = prompt
        decoder = StreamingDecoder(tokenizer)
        endTokens = Set([tokenizer.spec.eosID, tokenizer.spec.eotID].compactMap { $0 })
        self.contextLength = contextLength
        if options.maxTokens <= 0 { stopReason = .maxTokens }
    }

    /// Picks the token after `logits`. Returns the text that is now safe to show and the token
    /// to run through the model next, or nil when the generation has ended (`stopReason` says
    /// why; then `finish()` gives any held-back text).
    package mutating func next(_ logits: [Float]) -> (text: String, token: Int?) {
        guard stopReason == nil else { return ("", nil) }
        let token = sampler.sample(logits, recent: history[...])
        if options.stopAtEOS && endTokens.contains(token) { stopReason = .endOfSequence; return ("", nil) }
        history.append(token)
        generatedTokens += 1
        generatedIDs.append(token)
        pending += decoder.append(token)
        if let range = options.stopStrings.compactMap({ pending.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            let text = String(pending[..<range.lowerBound])
            pending = ""
            stopReason = .stopString
            return (text, nil)
        }
        let safe = Self.safePrefixLength(pending, stopStrings: options.stopStrings)
        let text = String(pending.prefix(safe))
        pending.removeFirst(safe)
        if generatedTokens >= options.maxTokens { stopReason = .maxTokens; return (text, nil) }
        // The new token must fit in the cache to be run for the logits after it.
        if history.count - 1 >= contextLength { stopReason = .contextFull; return (text, nil) }
        return (text, token)
    }

    /// Ends the generation (if it has not ended) and returns the text held back: none after a
    /// stop string, which cuts the text where it starts.
    package mutating func finish() -> String {
        if stopReason == nil { stopReason = .maxTokens }
        guard stopReason != .stopString else { return "" }
        let rest = pending + decoder.flush()
        pending = ""
        return rest
    }

    /// How much of `text` can be emitted without risking that a stop string starts in it.
    static func safePrefixLength(_ text: String, stopStrings: [String]) -> Int {
        guard !stopStrings.isEmpty else { return text.count }
        var hold = 0
        for stop in stopStrings {
            // The longest suffix of `text` that is a proper prefix of `stop`.
            for length in stride(from: min(stop.count - 1, text.count), through: 1, by: -1)
            where text.hasSuffix(stop.prefix(length)) {
                hold = max(hold, length)
                break
            }
        }
        return text.count - hold
    }
}
