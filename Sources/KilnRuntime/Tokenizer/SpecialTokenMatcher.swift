extension BPETokenizer {
    /// Finds special and added tokens (`<|im_start|>`) in text before pre-tokenization, so they
    /// become their own ids instead of being cut up. At each position the longest token starting
    /// there wins, scanning left to right — HF tokenizers' leftmost-longest `AddedVocabulary`
    /// match. (llama.cpp instead takes tokens longest first over the whole text; the two differ
    /// only when two tokens overlap in the text, like `ab` and `bcd` in `abcd`.)
    ///
    /// The tokens' scalars lie in one flat array, grouped by first scalar and longest first, so
    /// memory is 4 bytes per scalar: a trie with a dictionary per node took ~110 bytes per scalar
    /// (1.1 GB for one 10 MB token from a hostile file).
    struct SpecialTokenMatcher: Sendable {
        /// Token `k` is `scalars[starts[k] ..< starts[k + 1]]`, with id `ids[k]`.
        private let scalars: [UInt32]
        private let starts: [Int]
        private let ids: [Int]
        /// Token numbers by first scalar, longest first, so the first that matches is the longest.
        private let byFirst: [UInt32: [Int32]]
        /// ASCII scalars that start some token: most text never reaches the dictionary.
        private let asciiStarts: (low: UInt64, high: UInt64)
        private let startsWithNonASCII: Bool

        /// `entries` are (text, id); a text listed twice keeps its first id. Empty texts are ignored.
        init(_ entries: [(text: String, id: Int)]) {
            var scalars: [UInt32] = [], starts = [0], ids: [Int] = []
            var byFirst: [UInt32: [Int32]] = [:]
            var low: UInt64 = 0, high: UInt64 = 0, nonASCII = false
            for (text, id) in entries where !text.isEmpty {
                let first = text.unicodeScalars.first!.value
                byFirst[first, default: []].append(Int32(ids.count))
                scalars.append(contentsOf: text.unicodeScalars.lazy.map(\.value))
                starts.append(scalars.count)
                ids.append(id)
                if first < 64 { low |= 1 << first } else if first < 128 { high |= 1 << (first - 64) } else { nonASCII = true }
            }
            // Longest first; a stable sort keeps a repeated text's first id ahead of its later ones.
            for (first, list) in byFirst {
                byFirst[first] = list.enumerated().sorted { a, b in
                    let la = starts[Int(a.element) + 1] - starts[Int(a.element)]
                    let lb = starts[Int(b.element) + 1] - starts[Int(b.element)]
                    return la != lb ? la > lb : a.offset < b.offset
                }.map(\.element)
            }
            self.scalars = scalars
            self.starts = starts
            self.ids = ids
            self.byFirst = byFirst
            asciiStarts = (low, high)
            startsWithNonASCII = nonASCII
        }

        var isEmpty: Bool { ids.isEmpty }

        /// The longest token starting at `position` (its length in scalars and its id), or nil.
        @inline(__always)
        func match(_ text: UnsafeBufferPointer<UInt32>, at position: Int) -> (length: Int, id: Int)? {
            let first = text[position]
            let mayStart = first < 64 ? asciiStarts.low & (1 << first) != 0
                : first < 128 ? asciiStarts.high & (1 << (first - 64)) != 0 : startsWithNonASCII
            guard mayStart, let candidates = byFirst[first] else { return nil }
            let left = text.count - position
            return scalars.withUnsafeBufferPointer { all in
                for candidate in candidates {
                    let start = starts[Int(candidate)], length = starts[Int(candidate) + 1] - start
                    guard length <= left else { continue }
                    var k = 1
                    while k < length && all[start + k] == text[position + k] { k += 1 }
                    if k == length { return (length, ids[Int(candidate)]) }
                }
                return nil
            }
        }
    }
}
