extension BPETokenizer {
    /// GPT-2's byte-to-unicode alphabet (openai/gpt-2 `encoder.py` `bytes_to_unicode`, identical in
    /// transformers and llama.cpp): every byte gets a printable character so that merges and
    /// vocabulary entries can be written as text. Bytes `!`…`~`, `¡`…`¬` and `®`…`ÿ` stand for
    /// themselves; the other 68 bytes map, in increasing order, to U+0100, U+0101, … (space → `Ġ`,
    /// newline → `Ċ`).
    enum ByteLevelAlphabet {
        /// The character standing for each byte.
        static let scalarOfByte: [Unicode.Scalar] = {
            var table = [Unicode.Scalar](repeating: " ", count: 256)
            var next: UInt32 = 256
            for byte in 0..<256 {
                if standsForItself(UInt8(byte)) {
                    table[byte] = Unicode.Scalar(UInt8(byte))
                } else {
                    table[byte] = Unicode.Scalar(next)!
                    next += 1
                }
            }
            return table
        }()

        /// The byte each character of the alphabet stands for; the alphabet lies within U+0000–U+0143.
        static let byteOfScalar: [Int16] = {
            var table = [Int16](repeating: -1, count: 0x144)
            for (byte, scalar) in scalarOfByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
            return table
        }()

        static func standsForItself(_ byte: UInt8) -> Bool {
            (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
        }

        /// Appends the bytes a vocabulary entry stands for; true when every character was in the
        /// alphabet. Characters outside it (a mislabelled added token, say) are kept as their own
        /// UTF-8 rather than lost. Decodes the UTF-8 directly — every character of the alphabet is
        /// one or two bytes long — since this runs for every token when a vocabulary is loaded.
        static func appendBytes(of token: String, to out: inout [UInt8]) -> Bool {
            var token = token
            var spelled = true
            token.withUTF8 { utf8 in
                var i = 0
                while i < utf8.count {
                    let lead = utf8[i]
                    if lead < 0x80 {
                        // `!`…`~` stand for themselves; other ASCII is outside the alphabet and kept
                        // as its UTF-8 — the same byte.
                        spelled = spelled && (0x21...0x7E).contains(lead)
                        out.append(lead)
                        i += 1
                    } else if lead < 0xE0 && i + 1 < utf8.count {
                        let value = Int(lead & 0x1F) << 6 | Int(utf8[i + 1] & 0x3F)
                        if value < byteOfScalar.count && byteOfScalar[value] >= 0 {
                            out.append(UInt8(byteOfScalar[value]))
                        } else {
                            spelled = false
                            out.append(contentsOf: utf8[i...(i + 1)])
                        }
                        i += 2
                    } else {
                        spelled = false
                        let length = min(lead >= 0xF0 ? 4 : 3, utf8.count - i)
                        out.append(contentsOf: utf8[i..<(i + length)])
                        i += length
                    }
                }
            }
            return spelled
        }
    }
}
