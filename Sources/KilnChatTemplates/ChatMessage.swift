/// One turn of a conversation, as chat templates see it: `message['role']` and
/// `message['content']` (also `message.role`, `message.content`).
public struct ChatMessage: Sendable, Equatable {
    /// `system`, `user`, `assistant`, `tool`, …: templates decide which roles they accept.
    public var role: String
    /// The turn's text.
    public var content: String

    /// A turn with this role and text.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}
