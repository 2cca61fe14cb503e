extension BPETokenizer {
    /// Finds special and added tokens (`<|im_start|>`) in text before pre-tokenization, so they
    /// become their own ids instead of being cut up. A trie over Unicode scalars; at each position
    /// the longest token starting there wins, scanning left to right — HF tokenizers'
    /// leftmost-longest `AddedVocabulary` match. (llama.cpp instead takes tokens longest first
    /// over the whole text; the two differ only when two tokens overlap in the text, like `ab`
    /// and `bcd` in `abcd`.)
    struct SpecialTokenMatcher: Sendable {
        private var children: [[UInt32: Int32]] = [[:]]
        /// Token id ending at each node, or -1.
        private var tokenAt: [Int32] = [-1]
        /// ASCII scalars that start some token: most text never enters the trie.
        private var asciiStarts: (low: UInt64, high: UInt64) = (0, 0)
        private var startsWithNonASCII = false

        /// `entries` are (text, id); a text listed twice keeps its first id. Empty texts are ignored.
        init(_ entries: [(text: String, id: Int)]) {
            for (text, id) in entries where !text.isEmpty {
                var node = 0
                for scalar in text.unicodeScalars {
                    if let child = children[node][scalar.value] {
                        node = Int(child)
                    } else {
                        children.append([:])
                        tokenAt.append(-1)
                        children[node][scalar.value] = Int32(children.count - 1)
                        node = children.count - 1
                    }
                }
                if tokenAt[node] < 0 { tokenAt[node] = Int32(id) }
                let first = text.unicodeScalars.first!.value
                if first < 64 {
                    asciiStarts.low |= 1 << first
                } else if first < 128 {
                    asciiStarts.high |= 1 << (first - 64)
                } else {
                    startsWithNonASCII = true
                }
            }
        }

        var isEmpty: Bool { children[0].isEmpty }

        /// The longest token starting at `position` (its length in scalars and its id), or nil.
        @inline(__always)
        func match(_ scalars: UnsafeBufferPointer<UInt32>, at position: Int) -> (length: Int, id: Int)? {
            let first = scalars[position]
            let mayStart = first < 64 ? asciiStarts.low & (1 << first) != 0
                : first < 128 ? asciiStarts.high & (1 << (first - 64)) != 0 : startsWithNonASCII
            guard mayStart else { return nil }
            var node = 0
            var best: (length: Int, id: Int)?
            var i = position
            while i < scalars.count, let child = children[node][scalars[i]] {
                node = Int(child)
                i += 1
                if tokenAt[node] >= 0 { best = (i - position, Int(tokenAt[node])) }
            }
            return best
        }
    }
}
