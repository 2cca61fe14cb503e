import Dispatch
import KilnCore

/// The generation loop: prompt in, tokens out one at a time, each turned into text only when
/// its UTF-8 is complete, stopping at EOS, stop strings, the token limit or a full context.
package struct Generator: Sendable {
    package let transformer: Transformer
    package let tokenizer: BPETokenizer

    package init(transformer: Transformer, tokenizer: BPETokenizer) {
        self.transformer = transformer
        self.tokenizer = tokenizer
    }

    /// Generates after `prompt` (token ids) into `state`, which may already hold a prefix of
    /// them. `emit` receives each new piece of text; returning false stops early.
    @discardableResult
    package func generate(prompt: [Int], state: InferenceState, options: GenerationOptions,
                         emit: (String) -> Bool) throws -> GenerationStatistics {
        var stats = GenerationStatistics()
        guard !prompt.isEmpty else { throw KilnError(.usage, "the prompt is empty") }
        // Reuse what the cache already holds of this prompt (chat turns share their history);
        // at least the last prompt token is run again, for its logits.
        var reusable = 0
        while reusable < min(state.tokens.count, prompt.count - 1), state.tokens[reusable] == prompt[reusable] { reusable += 1 }
        state.truncate(to: reusable)
        let fresh = Array(prompt[reusable...])
        stats.promptTokens = fresh.count
        guard prompt.count < state.contextLength else {
            throw KilnError(.usage, "the prompt has \(prompt.count) tokens but the context holds \(state.contextLength); use a larger --ctx")
        }

        var clock = DispatchTime.now()
        var logits = try state.forward(fresh)
        stats.promptSeconds = seconds(since: clock)
        clock = DispatchTime.now()

        var sampler = Sampler(options.sampling)
        var history = prompt
        var decoder = StreamingDecoder(tokenizer)
        var pending = ""  // text held back while it could be the start of a stop string
        let endTokens = Set([tokenizer.spec.eosID, tokenizer.spec.eotID].compactMap { $0 })
        stats.stopReason = .maxTokens
        generation: for _ in 0..<options.maxTokens {
            let token = sampler.sample(logits, recent: history[...])
            if options.stopAtEOS && endTokens.contains(token) { stats.stopReason = .endOfSequence; break }
            history.append(token)
            stats.generatedTokens += 1
            stats.generatedIDs.append(token)
            pending += decoder.append(token)
            if let range = options.stopStrings.compactMap({ pending.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
                _ = emit(String(pending[..<range.lowerBound]))
                pending = ""
                stats.stopReason = .stopString
                break generation
            }
            let safe = Self.safePrefixLength(pending, stopStrings: options.stopStrings)
            if safe > 0 {
                let piece = String(pending.prefix(safe))
                pending.removeFirst(safe)
                if !emit(piece) { break }
            }
            guard state.position < state.contextLength else { stats.stopReason = .contextFull; break }
            logits = try state.forward([token])
        }
        if stats.stopReason != .stopString {
            let rest = pending + decoder.flush()
            if !rest.isEmpty { _ = emit(rest) }
        }
        stats.generationSeconds = seconds(since: clock)
        return stats
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

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
