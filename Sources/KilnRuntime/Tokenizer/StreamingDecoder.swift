/// Decodes ids one at a time for display while generating. A character's UTF-8 bytes may be
/// split across tokens (an emoji is often two or three byte tokens); the decoder holds such a
/// partial character back until it is whole, so it never prints U+FFFD for a character that is
/// still arriving. The concatenation of everything `append` and `flush` return equals
/// `decode` of all the ids.
public struct StreamingDecoder: Sendable {
    /// The tokenizer whose ids are decoded.
    public let tokenizer: BPETokenizer
    /// Whether control tokens (`<|im_end|>`) are left out of the text.
    public let skipSpecial: Bool
    private var pending: [UInt8] = []
    /// Whether the first space is still to be taken off (SentencePiece vocabularies).
    private var stripping: Bool

    /// An empty decoder for `tokenizer`'s ids. With `startsText`, the ids are a whole text and
    /// the space a SentencePiece vocabulary put before it comes off, as `decode` does; without
    /// it (generated tokens continuing a prompt) `▁word` keeps its space.
    public init(_ tokenizer: BPETokenizer, skipSpecial: Bool = true, startsText: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
        stripping = startsText && tokenizer.stripsLeadingSpace
    }

    /// The text that `id` completes; empty while a character is still incomplete.
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, skipSpecial: skipSpecial, to: &pending)
        if stripping && !pending.isEmpty {
            if pending[0] == 0x20 { pending.removeFirst() }
            stripping = false
        }
        let complete = UTF8Prefix.completeLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is held back, with an unfinished character as U+FFFD; the decoder is then empty.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}

extension StreamingDecoder {
    /// Where UTF-8 bytes can be cut so that decoding the two parts separately gives the same text
    /// as decoding them together.
    enum UTF8Prefix {
        /// The length of the longest prefix of `bytes` that does not end inside a character that
        /// the following bytes could still complete. Only a final lead byte with valid continuation
        /// bytes after it (fewer than it needs) is held back; anything already invalid is decoded
        /// now, to the same U+FFFD it would give later, since a decoder resolves an error from the
        /// bytes it has seen.
        static func completeLength(_ bytes: [UInt8]) -> Int {
            let count = bytes.count
            // The last lead (non-continuation) byte, at most 3 bytes back.
            var lead = count - 1
            while lead >= 0 && lead >= count - 4 && bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
            guard lead >= 0 && lead >= count - 4 else { return count }
            let first = bytes[lead]
            let needed: Int
            switch first {
            case 0xC2...0xDF: needed = 2
            case 0xE0...0xEF: needed = 3
            case 0xF0...0xF4: needed = 4
            default: return count   // ASCII, or a byte that can never start a character
            }
            let have = count - lead
            guard have < needed else { return count }
            // The second byte's range depends on the lead (no overlongs, surrogates or > U+10FFFF).
            if have >= 2 {
                let second = bytes[lead + 1]
                let valid: ClosedRange<UInt8> = switch first {
                case 0xE0: 0xA0...0xBF
                case 0xED: 0x80...0x9F
                case 0xF0: 0x90...0xBF
                case 0xF4: 0x80...0x8F
                default: 0x80...0xBF
                }
                guard valid.contains(second) else { return count }
            }
            return lead
        }
    }
}
