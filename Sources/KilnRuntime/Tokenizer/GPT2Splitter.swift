extension PreTokenizer {
    /// GPT-2's pre-tokenizer, hand-written:
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    ///
    /// Alternatives are tried in the regex's order at each position, as a backtracking engine
    /// (Oniguruma in HF tokenizers, `regex` in transformers' slow tokenizer) does; the structure
    /// follows llama.cpp's `unicode_regex_split_custom_gpt2`. llama.cpp's own pattern drops the
    /// final `|\s+`, which changes nothing: text no alternative matches becomes a piece of its
    /// own there, and the only such text is a lone whitespace character before a non-space —
    /// exactly what `\s+` would match.
    enum GPT2Splitter {
        /// Appends to `ends` the end (scalar index) of each piece of `range`, in order.
        static func split(_ text: ScalarText, _ range: Range<Int>, into ends: inout [Int]) {
            let end = range.upperBound
            var pos = range.lowerBound
            text.scalars.withUnsafeBufferPointer { s in
                text.classes.withUnsafeBufferPointer { c in
                    while pos < end {
                        let scalar = s[pos]
                        if scalar == Scalar.apostrophe,
                           let length = Contraction.length(s, at: pos, end: end, ignoringCase: false) {
                            pos += length
                        } else {
                            // ` ?X+`: a space before a run of letters, digits or others joins the run.
                            let runStart = scalar == Scalar.space && pos + 1 < end ? pos + 1 : pos
                            let runClass = c[runStart]
                            if runClass != .whitespace {
                                pos = runStart + 1
                                while pos < end && c[pos] == runClass { pos += 1 }
                            } else {
                                pos = Whitespace.runEnd(c, from: pos, end: end)
                            }
                        }
                        ends.append(pos)
                    }
                }
            }
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, optionally case-insensitive (Llama 3 and Qwen2 write `(?i:…)`).
    /// Case-insensitive means Unicode simple case folding, as Oniguruma (HF tokenizers) and
    /// Python's `regex` apply it: besides ASCII, `ſ` (U+017F) matches `s`. llama.cpp rewrites the
    /// group as `'[sS]|…` and so differs on `'ſ`; we follow the tokenizer the model was trained with.
    enum Contraction {
        /// The length of the contraction starting at the apostrophe at `pos`, or nil.
        @inline(__always)
        static func length(_ s: UnsafeBufferPointer<UInt32>, at pos: Int, end: Int, ignoringCase: Bool) -> Int? {
            guard pos + 1 < end else { return nil }
            let a = fold(s[pos + 1], ignoringCase)
            if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }   // s t m d
            guard pos + 2 < end else { return nil }
            let b = fold(s[pos + 2], ignoringCase)
            if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 }  // re ve ll
            return nil
        }

        @inline(__always)
        private static func fold(_ scalar: UInt32, _ ignoringCase: Bool) -> UInt32 {
            guard ignoringCase else { return scalar }
            if (0x41...0x5A).contains(scalar) { return scalar + 0x20 }
            // The only non-ASCII character whose simple case folding is one of s t m d r e v l.
            return scalar == 0x17F ? 0x73 : scalar
        }
    }

    /// `\s+(?!\S)|\s+` from a whitespace character at `pos`: a run of two or more followed by a
    /// non-space gives up its last character, which then leads the next piece (`" world"`).
    /// The end of the piece being split counts as "no non-space follows".
    enum Whitespace {
        @inline(__always)
        static func runEnd(_ c: UnsafeBufferPointer<CharacterClass>, from pos: Int, end: Int) -> Int {
            var i = pos
            while i < end && c[i] == .whitespace { i += 1 }
            return i - pos > 1 && i < end ? i - 1 : i
        }
    }

    enum Scalar {
        static let apostrophe: UInt32 = 0x27
        static let space: UInt32 = 0x20
        static let carriageReturn: UInt32 = 0x0D
        static let lineFeed: UInt32 = 0x0A
    }
}
