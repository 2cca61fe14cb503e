/// Every failure Kiln reports: what went wrong, where (file, field or tensor, byte offset),
/// and what was expected. The description is the message the command-line tools print.
public struct KilnError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The class of failure; the command-line tools map it to an exit status (`usage` and
    /// `io` exit 2, the others 1).
    public enum Kind: String, Sendable {
        /// The operating system refused (open, read, write, mmap, rename).
        case io
        /// The bytes do not follow the format's rules.
        case malformed
        /// Well-formed, but uses something this version of Kiln does not handle.
        case unsupported
        /// A stored checksum does not match the content.
        case checksum
        /// The caller asked for something impossible (wrong tensor name, bad argument).
        case usage
    }

    /// The class of failure.
    public var kind: Kind
    /// The file concerned, as the user named it.
    public var file: String?
    /// The field, tensor or entry concerned, e.g. `tensor 'wte.weight'` or `metadata key 'a.b'`.
    public var location: String?
    /// The byte offset in the file where the problem was found.
    public var offset: UInt64?
    /// What was found and what was expected.
    public var message: String

    /// An error of `kind` with `message` (what was found and what was expected), and where
    /// it was found as far as known: the file, the field or tensor, the byte offset.
    public init(_ kind: Kind, _ message: String, file: String? = nil, location: String? = nil, offset: UInt64? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
        self.location = location
        self.offset = offset
    }

    /// `file: byte offset: location: message`, leaving out what is unknown: the line the tools print.
    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let offset { parts.append("byte \(offset)") }
        if let location { parts.append(location) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }

    /// The same error with the file filled in where it was not known yet.
    @usableFromInline
    package func inFile(_ name: String) -> KilnError {
        var copy = self
        if copy.file == nil { copy.file = name }
        return copy
    }

    /// The same error with the location filled in where it was not known yet.
    package func at(_ location: String) -> KilnError {
        var copy = self
        if copy.location == nil { copy.location = location }
        return copy
    }
}

extension KilnError {
    package static func malformed(_ message: String, at offset: UInt64? = nil, _ location: String? = nil) -> KilnError {
        KilnError(.malformed, message, location: location, offset: offset)
    }
}

/// Runs `body`, attaching `file` to any `KilnError` that escapes it.
@inlinable
package func withFileContext<T>(_ file: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as KilnError {
        throw error.inFile(file)
    }
}
