import Foundation
import KilnCore
import KilnKernels

/// Continuous batching's step: the next rows of several sequences (one token each when
/// decoding, a chunk of prompt when one is being prefilled) run through the model together, so
/// each weight matrix is read once for all of them: on a CPU, where decoding one sequence is
/// bound by reading the weights, eight sequences cost little more than one. Each sequence keeps
/// its own `InferenceState` (KV cache, positions); sequences may join or leave between steps.
///
/// Sendable so a scheduler task can own it; a step holds the lock of every state it runs.
package final class SequenceBatch: @unchecked Sendable {
    package let transformer: Transformer
    /// The most rows (tokens summed over the sequences) one step takes.
    package let maxRows: Int
    private let buffers: Buffers
    private let lock = NSLock()
    /// The head's output for a step's rows that want logits, kept between steps (grown as needed).
    private var logits: UnsafeMutablePointer<Float>?
    private var logitsCapacity = 0

    package init(transformer: Transformer, maxRows: Int) {
        self.transformer = transformer
        self.maxRows = max(1, maxRows)
        buffers = Buffers(config: transformer.config, batch: self.maxRows)
    }

    deinit { logits?.deallocate() }

    /// One sequence's part of a step.
    package struct Entry: Sendable {
        package let state: InferenceState
        package let tokens: [Int]
        /// Whether the step returns the logits after the entry's last token (a decode step or a
        /// prompt's last chunk does; an earlier prompt chunk need not).
        package let wantsLogits: Bool

        package init(state: InferenceState, tokens: [Int], wantsLogits: Bool = true) {
            self.state = state
            self.tokens = tokens
            self.wantsLogits = wantsLogits
        }
    }

    /// Runs every entry's tokens at its sequence's next positions. Returns, per entry, the
    /// logits after its last token (`vocabulary` floats) or nil when it did not ask for them.
    /// Nothing runs when any entry is invalid.
    package func step(_ entries: [Entry]) throws -> [[Float]?] {
        lock.lock(); defer { lock.unlock() }
        let vocabulary = transformer.config.vocabulary
        let rows = entries.reduce(0) { $0 + $1.tokens.count }
        guard rows <= maxRows else {
            throw KilnError(.usage, "a batch step of \(rows) rows exceeds the batch's \(maxRows)")
        }
        guard Set(entries.map { ObjectIdentifier($0.state) }).count == entries.count else {
            throw KilnError(.usage, "a sequence appears twice in one batch step")
        }
        // Locked in a fixed order, so two batches sharing states could not deadlock.
        let states = entries.map(\.state).sorted { ObjectIdentifier($0) < ObjectIdentifier($1) }
        for state in states { state.lock.lock() }
        defer { for state in states { state.lock.unlock() } }
        for entry in entries {
            guard entry.state.transformer === transformer else {
                throw KilnError(.usage, "a sequence of another model was given to the batch")
            }
            guard !entry.tokens.isEmpty else { throw KilnError(.usage, "a batch entry has no tokens") }
            guard entry.state.position + entry.tokens.count <= entry.state.contextLength else {
                throw KilnError(.usage, "context is full: \(entry.state.position) + \(entry.tokens.count) tokens exceed \(entry.state.contextLength)")
            }
            if let bad = entry.tokens.first(where: { $0 < 0 || $0 >= vocabulary }) {
                throw KilnError(.usage, "token id \(bad) is outside the vocabulary of \(vocabulary)")
            }
        }
        let wanted = entries.filter(\.wantsLogits).count
        if wanted * vocabulary > logitsCapacity {
            logits?.deallocate()
            logits = .allocate(capacity: wanted * vocabulary)
            logitsCapacity = wanted * vocabulary
        }
        let segments = entries.map { ForwardSegment(state: $0.state, tokens: $0.tokens, logits: $0.wantsLogits ? .last : .none) }
        try ForwardPass(transformer: transformer, buffers: buffers, observer: nil).run(segments, logits: wanted > 0 ? logits : nil)
        // Each sequence's row copied out on the pool (eight rows of SmolLM2's 49 152 logits are
        // 1.5 MB: on one thread a copy took as long as a few layers' row-wise work).
        var logitRow: [Int?] = []
        var next = 0
        for entry in entries {
            logitRow.append(entry.wantsLogits ? next : nil)
            if entry.wantsLogits { next += 1 }
        }
        var results = [[Float]?](repeating: nil, count: entries.count)
        let source = UnsafePointer(logits)
        results.withUnsafeMutableBufferPointer { out in
            Kernels.parallelFor(entries.count) { index in
                guard let row = logitRow[index], let source else { return }
                out[index] = Array(UnsafeBufferPointer(start: source + row * vocabulary, count: vocabulary))
            }
        }
        return results
    }
}
