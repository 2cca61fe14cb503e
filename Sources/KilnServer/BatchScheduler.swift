import Foundation
import KilnCore
import KilnRuntime

/// Continuous batching: up to `parallel` sequences, each in a slot with its own KV cache, run
/// together in each step of a `SequenceBatch`: one row per decoding sequence, plus up to
/// `prefillChunk` prompt tokens of the sequences still being prefilled (oldest first). Waiting
/// requests take free slots between steps and finished or cancelled ones leave, so a step
/// never waits for the slowest request. Runs on its own thread: a step is seconds of CPU work
/// at worst and must not occupy Swift concurrency's few cooperative threads.
final class BatchScheduler: @unchecked Sendable {
    // @unchecked: the queue, free slots and flags are guarded by `condition`; `running` and the
    // batch are touched by the scheduler thread only.
    enum SubmitError: Error { case queueFull, shuttingDown }

    let model: LanguageModel
    let options: ServerOptions
    private let metrics: ServerMetrics
    private let batch: SequenceBatch
    private let condition = NSCondition()
    private var waiting: [GenerationJob] = []
    private var freeStates: [InferenceState]
    private var draining = false
    private var stopped = false
    private var running: [RunningSequence] = []
    private let finishedThread = DispatchSemaphore(value: 0)

    /// A sequence in a slot.
    private final class RunningSequence {
        let job: GenerationJob
        let state: InferenceState
        var stepper: GenerationStepper
        /// Prompt tokens already run.
        var prefilled = 0
        /// The token to run next, once the prompt is in.
        var next: Int?
        /// A whole answer's text so far (`GenerationJob.streams` false), sent when it ends.
        var text = ""

        init(job: GenerationJob, state: InferenceState, stepper: GenerationStepper) {
            self.job = job
            self.state = state
            self.stepper = stepper
        }
    }

    /// Throws when the slots' KV caches do not fit (the context is checked before allocating).
    init(model: LanguageModel, options: ServerOptions, metrics: ServerMetrics) throws {
        self.model = model
        self.options = options
        self.metrics = metrics
        batch = SequenceBatch(transformer: model.transformer, maxRows: options.parallel + options.prefillChunk)
        freeStates = try (0..<options.parallel).map { _ in
            try InferenceState(transformer: model.transformer, contextLength: options.contextLength, maxBatch: 1,
                           halfPrecisionCache: options.halfPrecisionKVCache)
        }
    }

    var waitingCount: Int {
        condition.lock(); defer { condition.unlock() }
        return waiting.count
    }

    var runningCount: Int {
        condition.lock(); defer { condition.unlock() }
        return options.parallel - freeStates.count
    }

    func start() {
        let thread = Thread { [self] in
            loop()
            finishedThread.signal()
        }
        thread.name = "kiln-batch-scheduler"
        thread.start()
    }

    /// Queues a generation; refused when the queue is full or the server is stopping.
    func submit(_ job: GenerationJob) throws(SubmitError) {
        condition.lock(); defer { condition.unlock() }
        guard !draining else { throw .shuttingDown }
        // A free slot takes a job at the loop's next admit: jobs waiting for one of those are not
        // queued, so a request that arrives before the loop admitted the one before it is not
        // refused while a slot is free (the end-to-end 429 test caught that race).
        guard waiting.count < options.queueLimit + freeStates.count else { throw .queueFull }
        waiting.append(job)
        metrics.queueLength.set(Int64(waiting.count))
        condition.signal()
    }

    /// Takes no new work and returns once everything queued or running has finished (or been
    /// cancelled). Then the thread has ended.
    func drain() async {
        beginDraining()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { [self] in
                finishedThread.wait()
                finishedThread.signal()  // later callers return too
                done.resume()
            }
        }
    }

    private func beginDraining() {
        condition.lock()
        draining = true
        condition.signal()
        condition.unlock()
    }

    /// Ends every queued and running generation now (after the grace period).
    func cancelAll() {
        condition.lock()
        for job in waiting { job.cancel() }
        stopped = true
        condition.signal()
        condition.unlock()
    }

    // MARK: The loop

    private func loop() {
        while true {
            guard admit() else { return }
            let stopAll = { self.condition.lock(); defer { self.condition.unlock() }; return self.stopped }()
            for sequence in running where sequence.job.isCancelled || stopAll {
                end(sequence, with: nil)
            }
            running.removeAll { $0.job.isCancelled || stopAll }
            guard !running.isEmpty else { continue }
            step()
        }
    }

    /// Moves waiting jobs into free slots; blocks while there is nothing to do. False when
    /// draining and everything has finished.
    private func admit() -> Bool {
        condition.lock(); defer { condition.unlock() }
        while true {
            for job in waiting where job.isCancelled || stopped { job.continuation.finish() }
            waiting.removeAll { $0.isCancelled || stopped }
            while !waiting.isEmpty, let state = freeStates.popLast() {
                let job = waiting.removeFirst()
                state.reset()
                let stepper = GenerationStepper(tokenizer: model.tokenizer, prompt: job.prompt, options: job.options,
                                                contextLength: state.contextLength)
                running.append(RunningSequence(job: job, state: state, stepper: stepper))
            }
            metrics.queueLength.set(Int64(waiting.count))
            metrics.runningSequences.set(Int64(running.count))
            if !running.isEmpty { return true }
            metrics.idle()
            if draining { return false }
            condition.wait()
        }
    }

    /// One batched step: every decoding sequence's next token, then prompt chunks.
    private func step() {
        var entries: [SequenceBatch.Entry] = [], owners: [RunningSequence] = []
        for sequence in running {
            if let token = sequence.next {
                entries.append(.init(state: sequence.state, tokens: [token]))
                owners.append(sequence)
            }
        }
        var budget = options.prefillChunk
        for sequence in running where sequence.next == nil && budget > 0 {
            let prompt = sequence.job.prompt
            let count = min(budget, prompt.count - sequence.prefilled)
            let chunk = Array(prompt[sequence.prefilled..<(sequence.prefilled + count)])
            sequence.prefilled += count
            budget -= count
            entries.append(.init(state: sequence.state, tokens: chunk, wantsLogits: sequence.prefilled == prompt.count))
            owners.append(sequence)
            metrics.promptTokens.increment(by: Int64(count))
        }

        let results: [[Float]?]
        do {
            results = try batch.step(entries)
        } catch {
            // Requests are checked before they are queued, so this is a bug; the step's
            // sequences fail with the reason instead of the server stopping.
            for sequence in owners { end(sequence, with: "\(error)") }
            running.removeAll { sequence in owners.contains { $0 === sequence } }
            return
        }
        metrics.batchSteps.increment()
        var generated = 0
        var finished: [RunningSequence] = []
        for (sequence, logits) in zip(owners, results) {
            guard let logits else { continue }
            let before = sequence.stepper.generatedTokens
            let (text, token) = sequence.stepper.next(logits)
            generated += sequence.stepper.generatedTokens - before
            if !text.isEmpty {
                if sequence.job.streams { sequence.job.continuation.yield(.text(text)) } else { sequence.text += text }
            }
            sequence.next = token
            if token == nil { finished.append(sequence) }
        }
        metrics.generated(generated)
        for sequence in finished { end(sequence, with: nil) }
        running.removeAll { sequence in finished.contains { $0 === sequence } }
    }

    /// Sends a sequence's last events and gives its slot back.
    private func end(_ sequence: RunningSequence, with failure: String?) {
        let job = sequence.job
        if let failure {
            job.continuation.yield(.failed(failure))
        } else if !job.isCancelled {
            let text = sequence.text + sequence.stepper.finish()
            if !text.isEmpty { job.continuation.yield(.text(text)) }
            job.continuation.yield(.finished(GenerationSummary(
                promptTokens: job.prompt.count, completionTokens: sequence.stepper.generatedTokens,
                stopReason: sequence.stepper.stopReason ?? .maxTokens)))
        }
        job.continuation.finish()
        condition.lock()
        freeStates.append(sequence.state)
        condition.unlock()
    }
}
