extension PreTokenizer {
    /// Llama 3's pre-tokenizer (also Qwen2's, with single digits), hand-written:
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    ///
    /// Alternatives in the regex's order, as llama.cpp's `unicode_regex_split_custom_llama3` /
    /// `_qwen2` try them. `maxDigits` is 3 for Llama 3 (`\p{N}{1,3}`) and 1 for Qwen2 (`\p{N}`).
    enum Llama3Splitter {
        static func split(_ text: ScalarText, _ range: Range<Int>, maxDigits: Int, into ends: inout [Int]) {
            let end = range.upperBound
            var pos = range.lowerBound
            text.scalars.withUnsafeBufferPointer { s in
                text.classes.withUnsafeBufferPointer { c in
                    while pos < end {
                        let scalar = s[pos]
                        let cls = c[pos]
                        let isNewline = scalar == Scalar.carriageReturn || scalar == Scalar.lineFeed
                        if scalar == Scalar.apostrophe,
                           let length = Contraction.length(s, at: pos, end: end, ignoringCase: true) {
                            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
                            pos += length
                        } else if cls == .letter || (!isNewline && cls != .number && pos + 1 < end && c[pos + 1] == .letter) {
                            // [^\r\n\p{L}\p{N}]?\p{L}+ — the optional lead may be any other
                            // character, a space or tab included.
                            pos += 1
                            while pos < end && c[pos] == .letter { pos += 1 }
                        } else if cls == .number {
                            // \p{N}{1,3}: a longer run becomes several pieces, left to right.
                            let limit = min(end, pos + maxDigits)
                            pos += 1
                            while pos < limit && c[pos] == .number { pos += 1 }
                        } else if cls.isOther || (scalar == Scalar.space && pos + 1 < end && c[pos + 1].isOther) {
                            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                            pos += 1
                            while pos < end && c[pos].isOther { pos += 1 }
                            while pos < end && (s[pos] == Scalar.carriageReturn || s[pos] == Scalar.lineFeed) { pos += 1 }
                        } else {
                            // Whitespace. `\s*[\r\n]+` ends after the run's last CR/LF, if it has one;
                            // otherwise `\s+(?!\S)|\s+`.
                            var i = pos
                            var afterLastNewline = -1
                            while i < end && c[i] == .whitespace {
                                if s[i] == Scalar.carriageReturn || s[i] == Scalar.lineFeed { afterLastNewline = i + 1 }
                                i += 1
                            }
                            pos = afterLastNewline >= 0 ? afterLastNewline : Whitespace.runEnd(c, from: pos, end: end)
                        }
                        ends.append(pos)
                    }
                }
            }
        }
    }
}
