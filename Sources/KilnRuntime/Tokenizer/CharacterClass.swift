extension PreTokenizer {
    /// The three Unicode classes the pre-tokenizer regexes test, as bits: `\p{L}` (general category
    /// L*), `\p{N}` (N*) and `\s` (the White_Space property — the set llama.cpp's
    /// `unicode_set_whitespace` lists and Oniguruma's `\s` matches, so U+001C–U+001F, which Python's
    /// `str.isspace` accepts, are *not* whitespace). Everything else is 0: the regexes'
    /// `[^\s\p{L}\p{N}]`.
    struct CharacterClass: OptionSet, Sendable {
        let rawValue: UInt8
        static let letter = CharacterClass(rawValue: 1)
        static let number = CharacterClass(rawValue: 2)
        static let whitespace = CharacterClass(rawValue: 4)

        /// `[^\s\p{L}\p{N}]`: punctuation, symbols, marks, controls, unassigned.
        var isOther: Bool { rawValue == 0 }

        @inline(__always)
        static func of(_ scalar: UInt32) -> CharacterClass {
            scalar < 0x80 ? CharacterClass(rawValue: ascii[Int(scalar)]) : computed(scalar)
        }

        private static let ascii: [UInt8] = (0..<0x80).map { computed(UInt32($0)).rawValue }

        /// The reference classification. A general-category query costs tens of nanoseconds, so
        /// only characters beyond ASCII pay it; `isWhitespace` would cost several times more, so the
        /// White_Space set (25 characters, unchanged since Unicode 6) is written out instead — a
        /// test checks it against the property for every scalar.
        static func computed(_ value: UInt32) -> CharacterClass {
            if isWhiteSpace(value) { return .whitespace }
            guard let scalar = Unicode.Scalar(value) else { return [] }   // surrogates: never in a String
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
                return .letter
            case .decimalNumber, .letterNumber, .otherNumber:
                return .number
            default:
                return []
            }
        }

        @inline(__always)
        static func isWhiteSpace(_ value: UInt32) -> Bool {
            switch value {
            case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
            default: false
            }
        }
    }
}
