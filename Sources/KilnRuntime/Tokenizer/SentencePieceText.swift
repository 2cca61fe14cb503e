extension BPETokenizer {
    /// How a SentencePiece vocabulary turns a stretch of text (between special tokens) into the
    /// `▁`-spelled pieces its model encodes, from `TokenizerSpec.pre` and `addSpacePrefix`:
    ///
    /// - `default` — llama.cpp, and Hugging Face's `Prepend("▁")` + `Replace(" ", "▁")`
    ///   normalizer: spaces become `▁`, a `▁` goes before every stretch (with `add_space_prefix`),
    ///   and the stretch is one piece.
    /// - `metaspace` — Hugging Face's `Metaspace` pre-tokenizer: spaces become `▁`, a `▁` goes
    ///   before the stretch only when it does not already start with one (with `-first` in the
    ///   name: only before a stretch at the very start of the text), and a new piece starts at
    ///   each `▁` (not with `-nosplit`).
    struct SentencePieceText: Sendable {
        let addsPrefix: Bool
        let prefixOnlyIfMissing: Bool
        let prefixOnlyAtStart: Bool
        let splits: Bool

        init(pre: String, addSpacePrefix: Bool) {
            addsPrefix = addSpacePrefix
            let metaspace = pre.hasPrefix("metaspace")
            prefixOnlyIfMissing = metaspace
            prefixOnlyAtStart = metaspace && pre.contains("first")
            splits = metaspace && !pre.contains("nosplit")
        }

        /// Calls `body` with each piece of `stretch`, which starts the text when `atStart`.
        func pieces(of stretch: ArraySlice<UInt8>, atStart: Bool, _ body: (ArraySlice<UInt8>) -> Void) {
            var text: [UInt8] = []
            text.reserveCapacity(stretch.count + 3)
            SentencePieceSpelling.escapingSpaces(stretch, into: &text)
            // Metaspace checks the text after replacing spaces: a literal `▁` counts too.
            let startsWithMark = text.starts(with: SentencePieceSpelling.spaceMark)
            if addsPrefix && !(prefixOnlyAtStart && !atStart) && !(prefixOnlyIfMissing && startsWithMark) {
                text.insert(contentsOf: SentencePieceSpelling.spaceMark, at: 0)
            }
            guard splits else { return body(text[...]) }
            var start = 0
            var i = 0
            while i + 2 < text.count {
                if i > start && text[i] == 0xE2 && text[i + 1] == 0x96 && text[i + 2] == 0x81 {
                    body(text[start..<i])
                    start = i
                }
                i += 1
            }
            body(text[start...])
        }
    }
}
