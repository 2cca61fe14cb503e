import Foundation
import KilnRuntime

/// What a generation sends back to the request that asked for it.
enum GenerationEvent: Sendable {
    case text(String)
    case finished(GenerationSummary)
    /// The engine could not run the sequence (the message says why).
    case failed(String)
}

struct GenerationSummary: Sendable {
    var promptTokens: Int
    var completionTokens: Int
    var stopReason: StopReason

    /// OpenAI's `finish_reason`.
    var finishReason: String {
        switch stopReason {
        case .endOfSequence, .stopString: "stop"
        case .maxTokens, .contextFull: "length"
        }
    }
}

/// One generation between the HTTP side, which submits it and reads its events, and the
/// scheduler, which runs it. Either side may end it: the scheduler when it finishes, the HTTP
/// side by `cancel()` when the client has gone.
final class GenerationJob: Sendable {
    let prompt: [Int]
    let options: GenerationOptions
    /// Whether the client reads the text as it is made (a stream) or only the whole answer.
    /// A whole answer's text is gathered by the scheduler and sent once at the end: an event per
    /// token would wake the reading task on every step for nothing the client sees.
    let streams: Bool
    let events: AsyncStream<GenerationEvent>
    let continuation: AsyncStream<GenerationEvent>.Continuation
    private let cancelled = NSLock()
    nonisolated(unsafe) private var isCancelledValue = false  // guarded by `cancelled`

    init(prompt: [Int], options: GenerationOptions, streams: Bool) {
        self.prompt = prompt
        self.options = options
        self.streams = streams
        (events, continuation) = AsyncStream.makeStream(of: GenerationEvent.self)
    }

    /// Asks the scheduler to drop the sequence and free its slot at the next step.
    func cancel() {
        cancelled.lock(); isCancelledValue = true; cancelled.unlock()
    }

    var isCancelled: Bool {
        cancelled.lock(); defer { cancelled.unlock() }
        return isCancelledValue
    }
}
