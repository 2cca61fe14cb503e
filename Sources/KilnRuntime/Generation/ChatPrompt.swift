import KilnCore

/// Messages to prompt text through the model's own chat template (ChatML when the file has
/// none), with the tokenizer's BOS and EOS strings as the template expects them.
package struct ChatPrompt: Sendable {
    package let template: ChatTemplate
    private let bosToken: String
    private let eosToken: String

    package init(tokenizer: BPETokenizer) throws {
        let spec = tokenizer.spec
        template = try spec.chatTemplate.map { try ChatTemplate($0) } ?? ChatTemplate.chatML
        bosToken = spec.bosID.map { spec.tokens[$0] } ?? ""
        eosToken = spec.eosID.map { spec.tokens[$0] } ?? ""
    }

    /// The prompt for the conversation so far, ready for the assistant's reply.
    package func render(_ messages: [ChatMessage]) throws -> String {
        try template.render(messages: messages, addGenerationPrompt: true, bosToken: bosToken, eosToken: eosToken)
    }
}
