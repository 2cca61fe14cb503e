extension BPETokenizer {
    /// How SentencePiece vocabularies spell text: a space is `▁` (U+2581) inside tokens, and a
    /// byte no token covers is a byte-fallback token written `<0xNN>` (two upper-case hex digits).
    enum SentencePieceSpelling {
        /// `▁` in UTF-8.
        static let spaceMark: [UInt8] = [0xE2, 0x96, 0x81]

        /// `bytes` with every space replaced by `▁`, as llama.cpp's `llama_escape_whitespace`
        /// and HF's `Replace(" ", "▁")` do.
        static func escapingSpaces(_ bytes: ArraySlice<UInt8>, into out: inout [UInt8]) {
            for byte in bytes {
                if byte == 0x20 { out.append(contentsOf: spaceMark) } else { out.append(byte) }
            }
        }

        /// What a normal token decodes to: its text with each `▁` turned back into a space.
        static func unescapingSpaces(_ token: String, into out: inout [UInt8]) {
            let utf8 = Array(token.utf8)
            var i = 0
            while i < utf8.count {
                if i + 2 < utf8.count && utf8[i] == 0xE2 && utf8[i + 1] == 0x96 && utf8[i + 2] == 0x81 {
                    out.append(0x20)
                    i += 3
                } else {
                    out.append(utf8[i])
                    i += 1
                }
            }
        }

        /// The byte a `<0xNN>` token stands for, or nil when the text is not of that form.
        static func byteValue(of token: String) -> UInt8? {
            let utf8 = Array(token.utf8)
            guard utf8.count == 6, utf8[0] == UInt8(ascii: "<"), utf8[1] == UInt8(ascii: "0"),
                  utf8[2] == UInt8(ascii: "x"), utf8[5] == UInt8(ascii: ">"),
                  let high = hexDigit(utf8[3]), let low = hexDigit(utf8[4]) else { return nil }
            return high << 4 | low
        }

        /// The id of each byte's fallback token: `<0xNN>`, else the byte itself as a one-byte
        /// token (llama.cpp's second try), else `unknown` (-1 when there is none).
        static func byteTokens(index: TokenIndex, unknown: Int32) -> [Int32] {
            let hex = Array("0123456789ABCDEF".utf8)
            return (0..<256).map { byte in
                let spelled: [UInt8] = [UInt8(ascii: "<"), UInt8(ascii: "0"), UInt8(ascii: "x"), hex[byte >> 4], hex[byte & 15], UInt8(ascii: ">")]
                if let id = spelled.withUnsafeBufferPointer({ index.id(of: $0) }) { return id }
                if let id = [UInt8(byte)].withUnsafeBufferPointer({ index.id(of: $0) }) { return id }
                return unknown
            }
        }

        private static func hexDigit(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
    }
}
