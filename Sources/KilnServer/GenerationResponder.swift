import Foundation
import Hummingbird
import KilnCore
import NIOCore

/// Runs a checked request through the scheduler and answers it whole or as server-sent events.
/// The response shapes (chat or text completion) come from a `ResponseShape`.
struct GenerationResponder: Sendable {
    let scheduler: BatchScheduler
    let modelName: String

    func respond(_ request: GenerationRequest, shape: ResponseShape, context: ServerContext) async throws -> Response {
        let job = GenerationJob(prompt: request.prompt, options: request.options, streams: request.stream)
        do {
            try scheduler.submit(job)
        } catch .queueFull {
            var error = APIError(status: .tooManyRequests, message: "the server is busy: \(scheduler.options.queueLimit) requests are already waiting; retry later",
                                 type: "rate_limit_error", param: nil, code: "queue_full")
            error.headers[.retryAfter] = "1"
            throw error
        } catch .shuttingDown {
            throw APIError(status: .serviceUnavailable, message: "the server is shutting down", type: "server_error", param: nil, code: "shutting_down")
        }
        // A client that hangs up cancels its generation, whether it was waiting for the whole
        // answer or reading a stream (its connection's channel closes either way). NIO keeps
        // every callback until the connection closes, and a kept-alive connection may carry
        // thousands of requests: the callback holds the job weakly, so a finished job (its
        // prompt and event stream) is freed at once and only the empty closure stays.
        context.channel.closeFuture.whenComplete { [weak job] _ in job?.cancel() }
        let id = shape.idPrefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(24).lowercased()
        let created = Int64(Date().timeIntervalSince1970)
        let header = ResponseHeader(id: id, created: created, model: modelName)

        guard request.stream else {
            var text = ""
            var summary: GenerationSummary?
            try await withTaskCancellationHandler {
                for await event in job.events {
                    switch event {
                    case .text(let piece): text += piece
                    case .finished(let result): summary = result
                    case .failed(let message): throw APIError(status: .internalServerError, message: message, type: "server_error", param: nil, code: nil)
                    }
                }
            } onCancel: { job.cancel() }
            guard let summary else {
                throw APIError(status: .serviceUnavailable, message: "the generation was stopped before it finished (client gone or server shutting down)",
                               type: "server_error", param: nil, code: "cancelled")
            }
            return JSONBody.response(shape.whole(header, text: text, summary: summary))
        }

        let includeUsage = request.includeUsage
        let body = ResponseBody { writer in
            func send(_ value: JSONValue) async throws {
                try await writer.write(ByteBuffer(string: "data: \(value.serialized())\n\n"))
            }
            do {
                try await withTaskCancellationHandler {
                    if let first = shape.opening(header) { try await send(first) }
                    for await event in job.events {
                        switch event {
                        case .text(let piece):
                            try await send(shape.chunk(header, text: piece))
                        case .finished(let summary):
                            try await send(shape.closing(header, summary: summary))
                            if includeUsage { try await send(shape.usageChunk(header, summary: summary)) }
                        case .failed(let message):
                            try await send(APIError(status: .internalServerError, message: message, type: "server_error", param: nil, code: nil).json)
                        }
                    }
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                    try await writer.finish(nil)
                } onCancel: { job.cancel() }
            } catch {
                job.cancel()  // the client is gone: free the slot now, not at the end
                throw error
            }
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

/// What every response and chunk of one generation repeats.
struct ResponseHeader: Sendable {
    let id: String
    let created: Int64
    let model: String
}

/// OpenAI's shapes for one endpoint: the whole response and the streamed chunks.
protocol ResponseShape: Sendable {
    var idPrefix: String { get }
    func whole(_ header: ResponseHeader, text: String, summary: GenerationSummary) -> JSONValue
    /// The chunk before any text (chat's assistant role), if the endpoint has one.
    func opening(_ header: ResponseHeader) -> JSONValue?
    func chunk(_ header: ResponseHeader, text: String) -> JSONValue
    /// The chunk that carries `finish_reason`.
    func closing(_ header: ResponseHeader, summary: GenerationSummary) -> JSONValue
    func usageChunk(_ header: ResponseHeader, summary: GenerationSummary) -> JSONValue
}

extension GenerationSummary {
    var usage: JSONValue {
        .object(["prompt_tokens": .int(Int64(promptTokens)), "completion_tokens": .int(Int64(completionTokens)),
                 "total_tokens": .int(Int64(promptTokens + completionTokens))])
    }
}

/// POST /v1/chat/completions: `chat.completion` and `chat.completion.chunk`.
struct ChatShape: ResponseShape {
    var idPrefix: String { "chatcmpl-" }

    private func object(_ header: ResponseHeader, _ kind: String, choices: [JSONValue]) -> [String: JSONValue] {
        ["id": .string(header.id), "object": .string(kind), "created": .int(header.created), "model": .string(header.model),
         "system_fingerprint": .null, "choices": .array(choices)]
    }

    func whole(_ header: ResponseHeader, text: String, summary: GenerationSummary) -> JSONValue {
        var o = object(header, "chat.completion", choices: [.object([
            "index": .int(0), "message": .object(["role": .string("assistant"), "content": .string(text)]),
            "finish_reason": .string(summary.finishReason), "logprobs": .null,
        ])])
        o["usage"] = summary.usage
        return .object(o)
    }

    private func delta(_ header: ResponseHeader, _ delta: [String: JSONValue], finish: String?) -> JSONValue {
        .object(object(header, "chat.completion.chunk", choices: [.object([
            "index": .int(0), "delta": .object(delta), "finish_reason": finish.map(JSONValue.string) ?? .null, "logprobs": .null,
        ])]))
    }

    func opening(_ header: ResponseHeader) -> JSONValue? { delta(header, ["role": .string("assistant"), "content": .string("")], finish: nil) }
    func chunk(_ header: ResponseHeader, text: String) -> JSONValue { delta(header, ["content": .string(text)], finish: nil) }
    func closing(_ header: ResponseHeader, summary: GenerationSummary) -> JSONValue { delta(header, [:], finish: summary.finishReason) }

    func usageChunk(_ header: ResponseHeader, summary: GenerationSummary) -> JSONValue {
        var o = object(header, "chat.completion.chunk", choices: [])
        o["usage"] = summary.usage
        return .object(o)
    }
}

/// POST /v1/completions: `text_completion`, whole and streamed.
struct CompletionShape: ResponseShape {
    var idPrefix: String { "cmpl-" }

    private func object(_ header: ResponseHeader, text: String, finish: String?) -> [String: JSONValue] {
        ["id": .string(header.id), "object": .string("text_completion"), "created": .int(header.created), "model": .string(header.model),
         "system_fingerprint": .null,
         "choices": .array([.object(["index": .int(0), "text": .string(text), "logprobs": .null,
                                     "finish_reason": finish.map(JSONValue.string) ?? .null])])]
    }

    func whole(_ header: ResponseHeader, text: String, summary: GenerationSummary) -> JSONValue {
        var o = object(header, text: text, finish: summary.finishReason)
        o["usage"] = summary.usage
        return .object(o)
    }

    func opening(_ header: ResponseHeader) -> JSONValue? { nil }
    func chunk(_ header: ResponseHeader, text: String) -> JSONValue { .object(object(header, text: text, finish: nil)) }
    func closing(_ header: ResponseHeader, summary: GenerationSummary) -> JSONValue { .object(object(header, text: "", finish: summary.finishReason)) }

    func usageChunk(_ header: ResponseHeader, summary: GenerationSummary) -> JSONValue {
        var o = object(header, text: "", finish: nil)
        o["choices"] = .array([])
        o["usage"] = summary.usage
        return .object(o)
    }
}
