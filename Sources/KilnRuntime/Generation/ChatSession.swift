import Foundation
import KilnCore

/// A conversation with a model: messages rendered through the model's own chat template, the
/// KV cache kept between turns so each turn only processes its new tokens.
/// Sendable: turns are serialised by a lock, so a session can be handed between tasks.
public final class ChatSession: @unchecked Sendable {
    private let lock = NSLock()
    /// The model replying.
    public let model: LanguageModel
    /// The conversation so far: the system message if any, then user and assistant turns.
    public private(set) var messages: [ChatMessage] = []
    /// Options for each reply; change them between turns (the context length and KV cache
    /// precision are fixed when the session is made).
    public var options: GenerationOptions
    private let chatPrompt: ChatPrompt
    private let state: InferenceState

    /// A conversation with `model`, rendered with the model's chat template (ChatML when the
    /// model has none). `system` becomes the first message when given (templates add their own
    /// default otherwise).
    ///
    /// - Throws: ``/KilnChatTemplates/ChatTemplateError`` if the model's chat template does not parse.
    public init(model: LanguageModel, system: String? = nil, options: GenerationOptions = GenerationOptions()) throws {
        self.model = model
        self.options = options
        chatPrompt = try ChatPrompt(tokenizer: model.tokenizer)
        state = try model.makeState(contextLength: options.contextLength, halfPrecisionKVCache: options.halfPrecisionKVCache)
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
    }

    /// The prompt text the template gives for the conversation so far, ready for the reply.
    ///
    /// - Throws: ``/KilnChatTemplates/ChatTemplateError`` if the template fails while rendering (it raises an
    ///   error, or exceeds its limits).
    public func renderedPrompt() throws -> String {
        try chatPrompt.render(messages)
    }

    /// Adds the user's message, generates the reply (streamed to `emit`, which returns false to
    /// stop early) and records it. Only the new turn's tokens are processed: the KV cache keeps
    /// the conversation.
    ///
    /// - Throws: ``/KilnChatTemplates/ChatTemplateError`` if rendering fails, or ``/KilnCore/KilnError`` if the context is
    ///   full before the prompt fits.
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
