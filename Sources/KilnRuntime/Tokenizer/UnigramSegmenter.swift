extension BPETokenizer {
    /// SentencePiece's unigram model, as Hugging Face tokenizers' `Unigram` encodes: the split of
    /// a piece into vocabulary tokens whose scores (log-probabilities) sum highest, found by
    /// Viterbi over character boundaries. A character no token starts with becomes the unknown
    /// token, scored `lowest score − 10`; consecutive unknowns fuse into one, and with byte
    /// fallback an unknown stretch becomes its bytes' `<0xNN>` tokens instead.
    struct UnigramSegmenter: Sendable {
        let index: TokenIndex
        let scores: [Float]
        /// Tokens a piece can be cut into (not control, unused or byte tokens).
        let candidate: [Bool]
        /// The longest candidate token, in bytes: no lookup tries a longer span.
        let maxTokenBytes: Int
        let unknownID: Int32?
        let unknownScore: Float
        /// Fallback token of each byte, when the model falls back to bytes; nil otherwise.
        let byteTokens: [Int32]?

        init(index: TokenIndex, tokens: [String], kinds: [TokenizerSpec.TokenKind], scores: [Float],
             unknownID: Int?, byteTokens: [Int32]?) {
            self.index = index
            self.scores = scores
            let candidate = kinds.map { $0 == .normal || $0 == .userDefined || $0 == .unknown }
            self.candidate = candidate
            maxTokenBytes = zip(tokens, candidate).filter(\.1).map(\.0.utf8.count).max() ?? 1
            self.unknownID = unknownID.map(Int32.init)
            unknownScore = (scores.min() ?? 0) - 10
            self.byteTokens = byteTokens
        }

        /// Appends the ids of `piece` (already `▁`-escaped) to `out`.
        func encode(_ piece: ArraySlice<UInt8>, into out: inout [Int32]) {
            let bytes = Array(piece)
            let n = bytes.count
            guard n > 0 else { return }
            // best[i]: highest score of a segmentation of bytes[..<i]; from[i]: where its last
            // token starts; token[i]: that token's id (-1 for unknown).
            var best = [Float](repeating: -.infinity, count: n + 1)
            var from = [Int](repeating: -1, count: n + 1)
            var token = [Int32](repeating: -1, count: n + 1)
            var reached = [Bool](repeating: false, count: n + 1)
            best[0] = 0
            reached[0] = true
            bytes.withUnsafeBufferPointer { all in
                var begin = 0
                while begin < n {
                    let charLength = min(SentencePieceMerger.sequenceLength(all[begin]), n - begin)
                    defer { begin += charLength }
                    guard reached[begin] else { continue }
                    var hasSingle = false
                    var end = begin + charLength
                    while end <= n && end - begin <= maxTokenBytes {
                        if let id = index.id(of: UnsafeBufferPointer(rebasing: all[begin..<end])), candidate[Int(id)] {
                            let score = best[begin] + scores[Int(id)]
                            if end == begin + charLength { hasSingle = true }
                            // Strictly better only: the first path found keeps a tie, as in HF.
                            if !reached[end] || score > best[end] {
                                best[end] = score; from[end] = begin; token[end] = id; reached[end] = true
                            }
                        }
                        guard end < n else { break }
                        end += min(SentencePieceMerger.sequenceLength(all[end]), n - end)
                    }
                    if !hasSingle {
                        let end = begin + charLength
                        let score = best[begin] + unknownScore
                        if !reached[end] || score > best[end] {
                            best[end] = score; from[end] = begin; token[end] = -1; reached[end] = true
                        }
                    }
                }
            }
            // Walk back from the end, then emit in order, fusing unknown stretches.
            var spans: [(start: Int, end: Int, id: Int32)] = []
            var end = n
            while end > 0 {
                spans.append((from[end], end, token[end]))
                end = from[end]
            }
            var pendingUnknown: Range<Int>? = nil
            func flushUnknown() {
                guard let range = pendingUnknown else { return }
                pendingUnknown = nil
                if let byteTokens, range.allSatisfy({ byteTokens[Int(bytes[$0])] >= 0 }) {
                    for i in range { out.append(byteTokens[Int(bytes[i])]) }
                } else if let unknownID {
                    out.append(unknownID)
                }
            }
            for span in spans.reversed() {
                if span.id < 0 {
                    pendingUnknown = (pendingUnknown?.lowerBound ?? span.start)..<span.end
                } else {
                    flushUnknown()
                    out.append(span.id)
                }
            }
            flushUnknown()
        }
    }
}
