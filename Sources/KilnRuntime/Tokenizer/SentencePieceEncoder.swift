import KilnFormats

extension BPETokenizer {
    /// Encodes the text between special tokens for a SentencePiece vocabulary: cut into
    /// `▁`-spelled pieces (`SentencePieceText`), each encoded by the vocabulary's model — merged by
    /// score (llama.cpp), merged by rank with byte fallback (Hugging Face BPE), or segmented by
    /// unigram scores.
    struct SentencePieceEncoder: Sendable {
        enum Model: Sendable {
            case mergedByScore(SentencePieceMerger)
            /// HF BPE: one symbol per character (its bytes' fallback tokens, or unknown, when the
            /// vocabulary lacks it), then merges by rank.
            case mergedByRank(BytePairMerger, unknownID: Int32)
            case unigram(UnigramSegmenter)
        }

        let text: SentencePieceText
        let model: Model
        let index: TokenIndex
        let byteTokens: [Int32]

        init(_ spec: TokenizerSpec, vocabulary: Vocabulary, warnings: inout [String]) throws {
            text = SentencePieceText(pre: spec.pre, addSpacePrefix: spec.addSpacePrefix)
            index = vocabulary.index
            let unknown = Int32(spec.unknownID ?? -1)
            byteTokens = SentencePieceSpelling.byteTokens(index: vocabulary.index, unknown: unknown)
            if byteTokens.contains(-1) {
                warnings.append("the vocabulary has no token for some bytes and no unknown token: text it cannot spell is left out")
            }
            switch spec.model {
            case "llama" where spec.merges.isEmpty:
                model = .mergedByScore(SentencePieceMerger(index: vocabulary.index, scores: spec.scores, byteTokens: byteTokens))
            case "llama":
                let merges = MergeTable(merges: spec.merges, index: vocabulary.index)
                if merges.unusable > 0 {
                    warnings.append("\(merges.unusable) of \(spec.merges.count) merge rules name tokens missing from the vocabulary and are ignored")
                }
                model = .mergedByRank(BytePairMerger(merges: merges, byteTokens: byteTokens), unknownID: unknown)
            case "unigram":
                guard !spec.scores.isEmpty else {
                    throw KilnError(.malformed, "the unigram tokenizer has no scores")
                }
                let fallback = spec.kinds.contains(.byte) ? byteTokens : nil
                model = .unigram(UnigramSegmenter(index: vocabulary.index, tokens: spec.tokens, kinds: vocabulary.kinds,
                                                  scores: spec.scores, unknownID: spec.unknownID, byteTokens: fallback))
            default:
                throw KilnError(.unsupported, "tokenizer model '\(spec.model)' is not one Kiln runs (gpt2, llama, unigram)")
            }
        }

        /// Appends the ids of `stretch`, a run of text between special tokens.
        func encode(_ stretch: ArraySlice<UInt8>, atStart: Bool, into ids: inout [Int32]) {
            text.pieces(of: stretch, atStart: atStart) { piece in
                switch model {
                case .mergedByScore(let merger):
                    merger.encode(Array(piece), into: &ids)
                case .mergedByRank(let merger, let unknownID):
                    merger.merge(characterSymbols(piece, unknownID: unknownID), into: &ids)
                case .unigram(let segmenter):
                    segmenter.encode(piece, into: &ids)
                }
            }
        }

        /// One token per character, or its bytes' fallback tokens, or the unknown token.
        private func characterSymbols(_ piece: ArraySlice<UInt8>, unknownID: Int32) -> [Int32] {
            var symbols: [Int32] = []
            symbols.reserveCapacity(piece.count)
            var i = piece.startIndex
            while i < piece.endIndex {
                let n = min(SentencePieceMerger.sequenceLength(piece[i]), piece.endIndex - i)
                let character = piece[i..<(i + n)]
                if let id = index.id(of: character) {
                    symbols.append(id)
                } else if character.allSatisfy({ byteTokens[Int($0)] >= 0 && byteTokens[Int($0)] != unknownID }) {
                    symbols.append(contentsOf: character.map { byteTokens[Int($0)] })
                } else if unknownID >= 0 {
                    symbols.append(unknownID)
                }
                i += n
            }
            return symbols
        }
    }
}
