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
            var queue = PairQueue()
            for i in 0..<(n - 1) {
                if let rule = merges.lookup(symbols[i], symbols[i + 1]) { queue.push(rank: rule >> 32, position: i) }
            }
            while let (rank, position) = queue.pop() {
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
                    queue.push(rank: rule >> 32, position: before)
                }
                let after = Int(next[position])
                if after >= 0, let rule = merges.lookup(symbols[position], symbols[after]) {
                    queue.push(rank: rule >> 32, position: position)
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

    /// A binary min-heap of (rank, position) packed into one integer, so that comparing two
    /// entries compares rank first and position second — the leftmost pair wins a tie.
    struct PairQueue {
        private var heap: [UInt64] = []

        mutating func push(rank: UInt64, position: Int) {
            heap.append(rank << 32 | UInt64(position))
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                if heap[parent] <= heap[child] { break }
                heap.swapAt(parent, child)
                child = parent
            }
        }

        mutating func pop() -> (rank: UInt64, position: Int)? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var parent = 0
                while true {
                    let left = 2 * parent + 1
                    if left >= heap.count { break }
                    let right = left + 1
                    let child = right < heap.count && heap[right] < heap[left] ? right : left
                    if heap[parent] <= heap[child] { break }
                    heap.swapAt(parent, child)
                    parent = child
                }
            }
            return (top >> 32, Int(top & 0xFFFF_FFFF))
        }
    }
}
