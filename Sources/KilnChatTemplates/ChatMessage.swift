/// One turn of a conversation, as chat templates see it: `message['role']` and
/// `message['content']` (also `message.role`, `message.content`).
public struct ChatMessage: Sendable, Equatable {
    /// `system`, `user`, `assistant`, `tool`, …: templates decide which roles they accept.
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}
