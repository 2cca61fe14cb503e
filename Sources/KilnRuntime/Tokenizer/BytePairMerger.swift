extension BPETokenizer {
    /// Byte-pair encoding of one pre-tokenized piece: start from one token per byte, then merge
    /// the adjacent pair with the lowest rank — the leftmost such pair on a tie — until no pair has
    /// a rule. This is the order of HF tokenizers' `Word::merge_all` and llama.cpp's
    /// `llm_tokenizer_bpe_session`; like both it uses a priority queue of candidate pairs over a
    /// linked list of symbols, so a long piece (a run of `=` in a source file) costs n log n, not n².
    struct BytePairMerger: Sendable {
        let merges: MergeTable
        /// Token id of each byte's single-character spelling; -1 when the vocabulary lacks it
        /// (such a byte is dropped, as llama.cpp and HF do without an unknown token).
        let byteTokens: [Int32]

        /// Appends the token ids of `bytes` to `out`.
        func encode(_ bytes: ArraySlice<UInt8>, into out: inout [Int32]) {
            let n = bytes.count
            if n == 1 {
                let id = byteTokens[Int(bytes[bytes.startIndex])]
                if id >= 0 { out.append(id) }
                return
            }
            merge(bytes.map { byteTokens[Int($0)] }, into: &out)
        }

        /// Merges `symbols` (token ids; negative ones are dropped) and appends the result to `out`.
        func merge(_ symbols: [Int32], into out: inout [Int32]) {
            var symbols = symbols
            let n = symbols.count
            guard n > 1 else {
                if let id = symbols.first, id >= 0 { out.append(id) }
                return
            }
            // Linked list over positions; a merged-away symbol is marked `removed`.
            var next = (0..<n).map { Int32($0 + 1) }
            var prev = (0..<n).map { Int32($0 - 1) }
            next[n - 1] = -1
            var queue = PriorityQueue<RankedPair>()
            for i in 0..<(n - 1) {
                if let rule = merges.lookup(symbols[i], symbols[i + 1]) { queue.push(RankedPair(rank: rule >> 32, position: i)) }
            }
            while let pair = queue.pop() {
                let rank = pair.rank, position = pair.position
                let right = Int(next[position])
                // Entries go stale when a neighbour merges first; the pair is still wanted only if
                // it is still there with this rank (a rank names one pair, so equal rank ⇒ same pair).
                guard symbols[position] != Self.removed, right >= 0,
                      let rule = merges.lookup(symbols[position], symbols[right]), rule >> 32 == rank else { continue }
                symbols[position] = Int32(truncatingIfNeeded: rule)
                symbols[right] = Self.removed
                next[position] = next[right]
                if next[right] >= 0 { prev[Int(next[right])] = Int32(position) }
                let before = Int(prev[position])
                if before >= 0, let rule = merges.lookup(symbols[before], symbols[position]) {
                    queue.push(RankedPair(rank: rule >> 32, position: before))
                }
                let after = Int(next[position])
                if after >= 0, let rule = merges.lookup(symbols[position], symbols[after]) {
                    queue.push(RankedPair(rank: rule >> 32, position: position))
                }
            }
            var i = 0
            while i >= 0 {
                if symbols[i] >= 0 { out.append(symbols[i]) }
                i = Int(next[i])
            }
        }

        private static let removed = Int32.min
    }

    /// A candidate merge: (rank, position) packed into one integer, so that comparing two
    /// entries compares rank first and position second — the leftmost pair wins a tie.
    struct RankedPair: QueuePriority {
        let packed: UInt64

        init(rank: UInt64, position: Int) { packed = rank << 32 | UInt64(position) }

        var rank: UInt64 { packed >> 32 }
        var position: Int { Int(packed & 0xFFFF_FFFF) }

        func precedes(_ other: RankedPair) -> Bool { packed < other.packed }
    }
}
