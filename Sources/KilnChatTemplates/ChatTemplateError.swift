/// Why a chat template could not be parsed or rendered. Templates come from model files, so
/// every failure, including a hostile template, is an error value and never a crash or a hang.
public struct ChatTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure it was.
    public enum Kind: String, Sendable {
        /// The text is not a template this interpreter accepts (bad syntax, unknown filter or
        /// tag). `line` and `column` point at the problem.
        case syntax
        /// The template called `raise_exception(message)`; `message` is the template's own text,
        /// e.g. "Conversation roles must alternate user/assistant/user/assistant/...".
        case raised
        /// Rendering failed the way Jinja would: an undefined value used as an object, a type
        /// error, division by zero, …
        case render
        /// A resource limit was reached (`ChatTemplate.Limits`).
        case limit
    }

    /// What kind of failure it was.
    public var kind: Kind
    /// What went wrong, in words (for `raised`, the template's own message).
    public var message: String
    /// 1-based position in the template source, when known.
    public var line: Int?
    /// 1-based column in the template source, when known.
    public var column: Int?

    /// An error of `kind`, at `line` and `column` of the template when they are known.
    public init(_ kind: Kind, _ message: String, line: Int? = nil, column: Int? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        var place = "chat template"
        if let line {
            place += " line \(line)"
            if let column { place += ", column \(column)" }
        }
        switch kind {
        case .raised: return "\(place): the template raised an exception: \(message)"
        case .syntax: return "\(place): syntax error: \(message)"
        case .render: return "\(place): \(message)"
        case .limit: return "\(place): limit reached: \(message)"
        }
    }
}
