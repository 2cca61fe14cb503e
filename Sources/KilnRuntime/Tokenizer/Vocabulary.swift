import KilnFormats

extension BPETokenizer {
    /// The id ↔ token maps of a byte-level vocabulary, and what each id decodes to.
    struct Vocabulary: Sendable {
        typealias Kind = TokenizerSpec.TokenKind

        let tokens: [String]
        /// Token text (UTF-8) → id. When a text occurs twice the later id wins.
        let index: TokenIndex
        let kinds: [Kind]
        /// The bytes each id decodes to, concatenated; id `i` is `bytes[offsets[i]..<offsets[i+1]]`.
        private let bytes: [UInt8]
        private let offsets: [Int]
        /// Ordinary tokens written wholly in the byte alphabet: the ones a piece of text can be.
        let ordinaryIDs: [Int32]

        init(_ spec: TokenizerSpec) {
            tokens = spec.tokens
            kinds = spec.kinds.isEmpty ? Array(repeating: .normal, count: spec.tokens.count) : spec.kinds
            index = TokenIndex(tokens)
            var bytes: [UInt8] = []
            var offsets = [0]
            offsets.reserveCapacity(tokens.count + 1)
            var ordinaryIDs: [Int32] = []
            for (id, (token, kind)) in zip(tokens, kinds).enumerated() {
                // Added tokens (control, user-defined) are stored as their text, not in the byte
                // alphabet: `<think>` is `<think>`, and a Qwen added token may hold any character.
                // llama.cpp's `token_to_piece` and transformers' added vocabulary do the same.
                if Self.isAdded(kind) {
                    bytes.append(contentsOf: token.utf8)
                } else if ByteLevelAlphabet.appendBytes(of: token, to: &bytes) && kind == .normal {
                    ordinaryIDs.append(Int32(id))
                }
                offsets.append(bytes.count)
            }
            self.bytes = bytes
            self.offsets = offsets
            self.ordinaryIDs = ordinaryIDs
        }

        /// Ordinary tokens by the bytes they stand for (for `ignore_merges`).
        func indexByBytes() -> TokenIndex {
            TokenIndex(storage: bytes, starts: offsets, ids: ordinaryIDs)
        }

        var count: Int { tokens.count }

        func id(of token: String) -> Int? { index.id(of: token).map(Int.init) }

        static func isAdded(_ kind: Kind) -> Bool { kind == .control || kind == .userDefined || kind == .unknown }

        /// Tokens `skipSpecial` leaves out of decoded text: control and unknown, as llama.cpp does
        /// with `special = false` and transformers with `skip_special_tokens`. User-defined tokens
        /// are text and stay.
        func isSkippable(_ id: Int) -> Bool { kinds[id] == .control || kinds[id] == .unknown }

        func appendBytes(of id: Int, to out: inout [UInt8]) {
            out.append(contentsOf: bytes[offsets[id]..<offsets[id + 1]])
        }
    }
}
