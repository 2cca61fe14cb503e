extension PreTokenizer {
    /// A text as the pre-tokenizers see it: its Unicode scalars with their character classes, and
    /// where each starts in the UTF-8 bytes, so that pieces found on scalars are handed to BPE as
    /// bytes without re-encoding.
    struct ScalarText {
        /// UTF-8 of the whole text.
        let bytes: [UInt8]
        let scalars: [UInt32]
        let classes: [CharacterClass]
        /// `byteStart[i]` is where scalar `i` begins in `bytes`; one extra entry holds `bytes.count`.
        let byteStart: [Int]

        init(_ text: String) {
            // A String holds valid UTF-8 (invalid input bytes became U+FFFD when it was made), so
            // decoding needs no error handling.
            let bytes = Array(text.utf8)
            var scalars: [UInt32] = []
            var classes: [CharacterClass] = []
            var byteStart: [Int] = []
            scalars.reserveCapacity(bytes.count)
            classes.reserveCapacity(bytes.count)
            byteStart.reserveCapacity(bytes.count + 1)
            var i = 0
            while i < bytes.count {
                let lead = UInt32(bytes[i])
                var value: UInt32
                var length: Int
                if lead < 0x80 { value = lead; length = 1 }
                else if lead < 0xE0 { value = lead & 0x1F; length = 2 }
                else if lead < 0xF0 { value = lead & 0x0F; length = 3 }
                else { value = lead & 0x07; length = 4 }
                for k in 1..<length { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
                byteStart.append(i)
                scalars.append(value)
                classes.append(.of(value))
                i += length
            }
            byteStart.append(bytes.count)
            self.bytes = bytes
            self.scalars = scalars
            self.classes = classes
            self.byteStart = byteStart
        }

        var count: Int { scalars.count }
    }
}
