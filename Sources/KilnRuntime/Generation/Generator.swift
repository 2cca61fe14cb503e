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
        let fresh = Array(prompt[state.position...])  // a sliding-window cache may keep less
        stats.promptTokens = fresh.count
        guard prompt.count < state.contextLength else {
            throw KilnError(.usage, "the prompt has \(prompt.count) tokens but the context holds \(state.contextLength); use a larger --ctx")
        }

        var clock = DispatchTime.now()
        var logits = try state.forward(fresh)
        stats.promptSeconds = seconds(since: clock)
        clock = DispatchTime.now()

        var stepper = GenerationStepper(tokenizer: tokenizer, prompt: prompt, options: options, contextLength: state.contextLength)
        while true {
            let (text, token) = stepper.next(logits)
            if !text.isEmpty && !emit(text) { break }
            guard let token else { break }
            logits = try state.forward([token])
        }
        let rest = stepper.finish()  // a generation the caller stopped ends as `.maxTokens`
        if !rest.isEmpty { _ = emit(rest) }
        stats.generatedTokens = stepper.generatedTokens
        stats.generatedIDs = stepper.generatedIDs
        stats.stopReason = stepper.stopReason ?? .maxTokens
        stats.generationSeconds = seconds(since: clock)
        return stats
    }
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
