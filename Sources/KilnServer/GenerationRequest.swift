import KilnCore
import KilnRuntime

/// A chat or completion request read and checked: prompt tokens, how to sample and when to
/// stop, and how to answer.
struct GenerationRequest {
    var prompt: [Int]
    var options: GenerationOptions
    var stream: Bool
    /// `stream_options.include_usage`: a last chunk with the usage before `[DONE]`.
    var includeUsage: Bool

    /// The fields chat and completions share. `promptField` names the prompt's field
    /// (`messages` or `prompt`) in a context-overflow error.
    init(fields: RequestFields, prompt: [Int], promptField: String, contextLength: Int, maxTokensKeys: [String]) throws {
        guard try fields.int("n", in: 1...1) ?? 1 == 1 else { throw APIError.invalid("'n' must be 1", param: "n") }
        if try fields.bool("logprobs") == true {
            throw APIError.invalid("'logprobs' is not supported", param: "logprobs")
        }
        guard !prompt.isEmpty else { throw APIError.invalid("'\(promptField)' gives an empty prompt", param: promptField) }
        guard prompt.count < contextLength else {
            throw APIError.invalid("the prompt has \(prompt.count) tokens but the context holds \(contextLength) (prompt and reply); shorten '\(promptField)' or start the server with a larger --ctx",
                                   param: promptField, code: "context_length_exceeded")
        }
        let room = contextLength - prompt.count
        var maxTokens = room
        for key in maxTokensKeys {
            guard let requested = try fields.int(key, in: 0...Int(Int32.max)) else { continue }
            guard requested <= room else {
                throw APIError.invalid("'\(key)' is \(requested) but the context has room for \(room) tokens after the \(prompt.count)-token prompt",
                                       param: key, code: "context_length_exceeded")
            }
            maxTokens = requested
        }
        // OpenAI's defaults (temperature 1, top_p 1, no top-k or min-p cut); top_k, min_p and
        // repeat_penalty are llama-server's extensions, accepted as it accepts them.
        let sampling = SamplingOptions(
            temperature: Float(try fields.number("temperature", in: 0...2) ?? 1),
            topK: try fields.int("top_k", in: 0...Int(Int32.max)) ?? 0,
            topP: Float(try fields.number("top_p", in: 0...1) ?? 1),
            minP: Float(try fields.number("min_p", in: 0...1) ?? 0),
            repetitionPenalty: Float(try fields.number("repeat_penalty", in: 0.01...10) ?? 1),
            seed: try fields.seed("seed"))
        // Accepted for compatibility; Kiln's sampler has no presence or frequency penalty.
        _ = try fields.number("presence_penalty", in: -2...2)
        _ = try fields.number("frequency_penalty", in: -2...2)
        self.prompt = prompt
        options = GenerationOptions(maxTokens: maxTokens, sampling: sampling, stopStrings: try fields.stopStrings("stop"),
                                    stopAtEOS: !(try fields.bool("ignore_eos") ?? false))  // llama-server's, for benchmarks
        stream = try fields.bool("stream") ?? false
        if let streamOptions = fields.object["stream_options"], !streamOptions.isNull {
            guard case .object(let object) = streamOptions else {
                throw APIError.invalid("'stream_options' must be an object, not \(streamOptions.typeName)", param: "stream_options")
            }
            let include = object["include_usage"] ?? .null
            guard include.isNull || include.boolValue != nil else {
                throw APIError.invalid("'stream_options.include_usage' must be a boolean", param: "stream_options.include_usage")
            }
            includeUsage = include.boolValue ?? false
        } else {
            includeUsage = false
        }
    }
}

extension RequestFields {
    /// Chat messages: `role` and `content` (a string, or text parts as OpenAI's SDKs send).
    func messages() throws -> [ChatMessage] {
        guard let items = try array("messages") else { throw APIError.invalid("'messages' is required", param: "messages") }
        guard !items.isEmpty else { throw APIError.invalid("'messages' must not be empty", param: "messages") }
        return try items.enumerated().map { index, item in
            let path = "messages[\(index)]"
            guard case .object(let message) = item else {
                throw APIError.invalid("'\(path)' must be an object, not \(item.typeName)", param: path)
            }
            guard let role = message["role"]?.stringValue else {
                throw APIError.invalid("'\(path).role' must be a string", param: "\(path).role")
            }
            return ChatMessage(role: role, content: try Self.content(message["content"] ?? .null, path: "\(path).content"))
        }
    }

    private static func content(_ value: JSONValue, path: String) throws -> String {
        switch value {
        case .null: return ""
        case .string(let text): return text
        case .array(let parts):
            return try parts.enumerated().map { index, part in
                guard part["type"]?.stringValue == "text", let text = part["text"]?.stringValue else {
                    throw APIError.invalid("'\(path)[\(index)]' must be a text part ({\"type\": \"text\", \"text\": …}); only text is supported",
                                           param: "\(path)[\(index)]")
                }
                return text
            }.joined()
        default:
            throw APIError.invalid("'\(path)' must be a string or an array of text parts, not \(value.typeName)", param: path)
        }
    }

    /// A completion's prompt: a string, one string in an array, or token ids.
    func completionPrompt(tokenize: (String) -> [Int], vocabulary: Int) throws -> [Int] {
        guard let value = object["prompt"], !value.isNull else { throw APIError.invalid("'prompt' is required", param: "prompt") }
        if let text = value.stringValue { return tokenize(text) }
        guard let items = value.arrayValue, !items.isEmpty else {
            throw APIError.invalid("'prompt' must be a string, an array of one string or an array of token ids", param: "prompt")
        }
        if items.count == 1, let text = items[0].stringValue { return tokenize(text) }
        return try items.enumerated().map { index, item in
            guard let id = item.intValue else {
                throw APIError.invalid("'prompt' must be a string, an array of one string or an array of token ids (one prompt per request)",
                                       param: "prompt[\(index)]")
            }
            guard (0..<vocabulary).contains(id) else {
                throw APIError.invalid("token id \(id) is outside the vocabulary of \(vocabulary)", param: "prompt[\(index)]")
            }
            return id
        }
    }
}
