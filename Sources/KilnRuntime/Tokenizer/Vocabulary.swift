import KilnFormats

extension BPETokenizer {
    /// The id ↔ token maps of a vocabulary, and what each id decodes to.
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
            let kinds = spec.kinds.isEmpty ? Array(repeating: .normal, count: spec.tokens.count) : spec.kinds
            if spec.model == "gpt2" {
                self.init(byteLevel: spec.tokens, kinds: kinds)
            } else {
                self.init(sentencePiece: spec.tokens, kinds: kinds)
            }
        }

        /// A byte-level vocabulary: ordinary tokens are spelled in GPT-2's byte alphabet.
        private init(byteLevel tokens: [String], kinds: [Kind]) {
            self.tokens = tokens
            self.kinds = kinds
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

        /// A SentencePiece vocabulary: normal tokens decode with `▁` as a space, byte tokens
        /// (`<0x41>`) to their byte, added tokens to their text, unused tokens to nothing (as
        /// llama.cpp's `token_to_piece`).
        private init(sentencePiece tokens: [String], kinds: [Kind]) {
            self.tokens = tokens
            // llama.cpp makes tokens named like an end of turn control tokens whatever the file
            // says (Gemma 3 marks `</s>` user-defined): they are then not matched in user text.
            let kinds = zip(tokens, kinds).map { Self.endOfTurnNames.contains($0) ? .control : $1 }
            self.kinds = kinds
            index = TokenIndex(tokens)
            var bytes: [UInt8] = []
            var offsets = [0]
            offsets.reserveCapacity(tokens.count + 1)
            for (token, kind) in zip(tokens, kinds) {
                switch kind {
                case .normal: SentencePieceSpelling.unescapingSpaces(token, into: &bytes)
                case .byte:
                    if let byte = SentencePieceSpelling.byteValue(of: token) { bytes.append(byte) } else { bytes.append(contentsOf: token.utf8) }
                case .control, .userDefined, .unknown: bytes.append(contentsOf: token.utf8)
                case .unused: break
                }
                offsets.append(bytes.count)
            }
            self.bytes = bytes
            self.offsets = offsets
            ordinaryIDs = []
        }

        /// The token texts llama.cpp's `llama_vocab::load` treats as end-of-generation control
        /// tokens (those a SentencePiece vocabulary can hold).
        static let endOfTurnNames: Set<String> = [
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
            "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
        ]

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
