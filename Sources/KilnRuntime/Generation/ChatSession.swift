import Foundation
import KilnCore

/// A conversation with a model: messages rendered through the model's own chat template, the
/// KV cache kept between turns so each turn only processes its new tokens.
/// Sendable: turns are serialised by a lock, so a session can be handed between tasks.
public final class ChatSession: @unchecked Sendable {
    private let lock = NSLock()
    public let model: LanguageModel
    public private(set) var messages: [ChatMessage] = []
    public var options: GenerationOptions
    private let template: ChatTemplate
    private let state: InferenceState

    /// `system` becomes the first message when given (templates add their own default otherwise).
    public init(model: LanguageModel, system: String? = nil, options: GenerationOptions = GenerationOptions()) throws {
        self.model = model
        self.options = options
        if let source = model.tokenizer.spec.chatTemplate {
            template = try ChatTemplate(source)
        } else {
            template = ChatTemplate.chatML
        }
        state = model.makeState(contextLength: options.contextLength, halfPrecisionKVCache: options.halfPrecisionKVCache)
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
    }

    /// The prompt text the template gives for the conversation so far, ready for the reply.
    public func renderedPrompt() throws -> String {
        let spec = model.tokenizer.spec
        let bos = spec.bosID.map { spec.tokens[$0] } ?? ""
        let eos = spec.eosID.map { spec.tokens[$0] } ?? ""
        return try template.render(messages: messages, addGenerationPrompt: true, bosToken: bos, eosToken: eos)
    }

    /// Adds the user's message, generates the reply (streamed to `emit`) and records it.
    @discardableResult
    public func send(_ text: String, emit: (String) -> Bool) throws -> GenerationStatistics {
        lock.lock(); defer { lock.unlock() }
        messages.append(ChatMessage(role: "user", content: text))
        let prompt = model.promptTokens(try renderedPrompt())
        var reply = ""
        let stats = try Generator(transformer: model.transformer, tokenizer: model.tokenizer).generate(
            prompt: prompt, state: state, options: options
        ) { piece in
            reply += piece
            return emit(piece)
        }
        messages.append(ChatMessage(role: "assistant", content: reply))
        return stats
    }
}
