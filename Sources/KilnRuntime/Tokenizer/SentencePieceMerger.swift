extension BPETokenizer {
    /// SentencePiece BPE by score, as llama.cpp's `llm_tokenizer_spm` does it: start from one
    /// symbol per UTF-8 character; repeatedly join the adjacent pair whose concatenation is a
    /// vocabulary token with the highest score (the leftmost on a tie); then emit each symbol's
    /// token, or its bytes' fallback tokens when the symbol is a lone character the vocabulary
    /// lacks. (llama.cpp's `resegment` can only ever reach that case: every joined symbol is a
    /// token by construction.) A priority queue over a linked list keeps a long text n log n.
    struct SentencePieceMerger: Sendable {
        let index: TokenIndex
        let scores: [Float]
        /// Fallback token of each byte (-1: none, the byte is dropped).
        let byteTokens: [Int32]

        /// Appends the ids of `text` (already `▁`-escaped) to `out`.
        func encode(_ text: [UInt8], into out: inout [Int32]) {
            guard !text.isEmpty else { return }
            // One symbol per character: start and length in `text`, and a doubly linked list.
            var start: [Int] = [], length: [Int] = []
            var offset = 0
            while offset < text.count {
                let n = min(Self.sequenceLength(text[offset]), text.count - offset)
                start.append(offset)
                length.append(n)
                offset += n
            }
            let count = start.count
            var next = (0..<count).map { $0 + 1 }
            var prev = (0..<count).map { $0 - 1 }
            next[count - 1] = -1

            var queue = PriorityQueue<Bigram>()
            text.withUnsafeBufferPointer { all in
                func tryAdd(_ left: Int, _ right: Int) {
                    guard left >= 0, right >= 0 else { return }
                    let size = length[left] + length[right]
                    let joined = UnsafeBufferPointer(rebasing: all[start[left]..<(start[left] + size)])
                    guard let id = index.id(of: joined) else { return }
                    queue.push(Bigram(score: scores.isEmpty ? 0 : scores[Int(id)], left: left, right: right, size: size))
                }
                for i in 1..<count { tryAdd(i - 1, i) }
                while let bigram = queue.pop() {
                    let left = bigram.left, right = bigram.right
                    // Stale: one side was merged away, or grew since the pair was queued.
                    guard length[left] > 0, length[right] > 0, length[left] + length[right] == bigram.size else { continue }
                    length[left] += length[right]
                    length[right] = 0
                    next[left] = next[right]
                    if next[right] >= 0 { prev[next[right]] = left }
                    tryAdd(prev[left], left)
                    tryAdd(left, next[left])
                }
                var i = 0
                while i >= 0 {
                    let piece = UnsafeBufferPointer(rebasing: all[start[i]..<(start[i] + length[i])])
                    if let id = index.id(of: piece) {
                        out.append(id)
                    } else {
                        for byte in piece where byteTokens[Int(byte)] >= 0 { out.append(byteTokens[Int(byte)]) }
                    }
                    i = next[i]
                }
            }
        }

        /// The length of the UTF-8 sequence a lead byte starts (1 for a stray continuation
        /// byte), as llama.cpp's `unicode_len_utf8`.
        static func sequenceLength(_ lead: UInt8) -> Int {
            switch lead >> 4 {
            case 0xC, 0xD: 2
            case 0xE: 3
            case 0xF: 4
            default: 1
            }
        }
    }

    /// A candidate join of two adjacent symbols.
    struct Bigram: QueuePriority {
        let score: Float
        let left: Int
        let right: Int
        let size: Int

        /// Whether `self` is taken before `other`: higher score, then further left.
        func precedes(_ other: Bigram) -> Bool {
            score != other.score ? score > other.score : left < other.left
        }
    }
}
