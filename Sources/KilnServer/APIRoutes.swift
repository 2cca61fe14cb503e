import Foundation
import Hummingbird
import KilnCore
import KilnRuntime
import NIOCore

/// The endpoints: OpenAI's chat, completions and models, and llama-server's health, tokenize,
/// detokenize and metrics.
struct APIRoutes: Sendable {
    let model: LanguageModel
    let chatPrompt: ChatPrompt
    let scheduler: BatchScheduler
    let metrics: ServerMetrics
    let options: ServerOptions
    let started = Int64(Date().timeIntervalSince1970)

    var responder: GenerationResponder { GenerationResponder(scheduler: scheduler, modelName: options.modelName) }

    func add(to router: Router<ServerContext>) {
        router.post("/v1/chat/completions") { request, context in try await chat(request, context) }
        router.post("/v1/completions") { request, context in try await completions(request, context) }
        router.get("/v1/models") { _, _ in JSONBody.response(.object(["object": .string("list"), "data": .array([modelObject])])) }
        router.get("/v1/models/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard id == options.modelName else {
                throw APIError(status: .notFound, message: "no model '\(id)'; this server serves '\(options.modelName)'",
                               type: "invalid_request_error", param: "model", code: "model_not_found")
            }
            return JSONBody.response(modelObject)
        }
        router.get("/health") { _, _ in
            JSONBody.response(.object(["status": .string("ok"), "slots_idle": .int(Int64(options.parallel - scheduler.runningCount)),
                                       "slots_processing": .int(Int64(scheduler.runningCount)),
                                       "queue_length": .int(Int64(scheduler.waitingCount))]))
        }
        router.post("/tokenize") { request, context in try await tokenize(request, context) }
        router.post("/detokenize") { request, context in try await detokenize(request, context) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.text())))
        }
    }

    /// The methods each path answers (for 405 on the others); keep in step with `add(to:)`.
    static func methods(for path: String) -> [String] {
        switch path {
        case "/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize": ["POST"]
        case "/v1/models", "/health", "/metrics": ["GET"]
        case _ where path.hasPrefix("/v1/models/") && path.dropFirst(11).allSatisfy({ $0 != "/" }): ["GET"]
        default: []
        }
    }

    private var modelObject: JSONValue {
        .object(["id": .string(options.modelName), "object": .string("model"), "created": .int(started), "owned_by": .string("kiln")])
    }

    private func chat(_ request: Request, _ context: ServerContext) async throws -> Response {
        let fields = try await body(request)
        let messages = try fields.messages()
        let text: String
        do {
            text = try chatPrompt.render(messages)
        } catch {
            throw APIError.invalid("the model's chat template failed on these messages: \(error)", param: "messages")
        }
        // The template writes BOS itself where the model wants it: no second one.
        let prompt = model.tokenizer.encode(text)
        let generation = try GenerationRequest(fields: fields, prompt: prompt, promptField: "messages",
                                               contextLength: options.contextLength, maxTokensKeys: ["max_tokens", "max_completion_tokens"])
        return try await responder.respond(generation, shape: ChatShape(), context: context)
    }

    private func completions(_ request: Request, _ context: ServerContext) async throws -> Response {
        let fields = try await body(request)
        let prompt = try fields.completionPrompt(tokenize: model.promptTokens, vocabulary: model.config.vocabulary)
        let generation = try GenerationRequest(fields: fields, prompt: prompt, promptField: "prompt",
                                               contextLength: options.contextLength, maxTokensKeys: ["max_tokens"])
        return try await responder.respond(generation, shape: CompletionShape(), context: context)
    }

    /// `{"content": text, "add_special": false}` → `{"tokens": [ids]}` (llama-server's shape).
    private func tokenize(_ request: Request, _ context: ServerContext) async throws -> Response {
        let fields = try await body(request)
        let content = try fields.requiredString("content")
        let tokens = try fields.bool("add_special") == true ? model.promptTokens(content) : model.tokenizer.encode(content)
        return JSONBody.response(.object(["tokens": .array(tokens.map { .int(Int64($0)) })]))
    }

    /// `{"tokens": [ids]}` → `{"content": text}`.
    private func detokenize(_ request: Request, _ context: ServerContext) async throws -> Response {
        let fields = try await body(request)
        guard let items = try fields.array("tokens") else { throw APIError.invalid("'tokens' is required", param: "tokens") }
        let vocabulary = model.config.vocabulary
        let ids = try items.enumerated().map { index, item in
            guard let id = item.intValue, (0..<vocabulary).contains(id) else {
                throw APIError.invalid("'tokens[\(index)]' must be a token id from 0 to \(vocabulary - 1)", param: "tokens[\(index)]")
            }
            return id
        }
        return JSONBody.response(.object(["content": .string(model.tokenizer.decode(ids))]))
    }

    /// The body as JSON fields, within the size limit.
    private func body(_ request: Request) async throws -> RequestFields {
        let limit = options.maxBodyBytes
        let tooLarge = APIError(status: .contentTooLarge, message: "the request body is larger than the server's limit of \(limit) bytes",
                                type: "invalid_request_error", param: nil, code: "body_too_large")
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw tooLarge }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
        return try RequestFields(body: Array(buffer.readableBytesView))
    }
}
