extension BPETokenizer {
    /// The merge rules as integers: a pair of token ids → its rank and the id of the merged token.
    /// Pairs and results are vocabulary ids, so BPE never builds or hashes strings.
    struct MergeTable: Sendable {
        /// `left << 32 | right` → `rank << 32 | merged`.
        private let table: [UInt64: UInt64]
        /// Rules that could not be used: a part or the merged token is not in the vocabulary
        /// (transformers refuses such a file; llama.cpp keeps the rule, which can then only produce
        /// a token it cannot look up).
        let unusable: Int

        init(merges: [String], index: TokenIndex) {
            var table: [UInt64: UInt64] = [:]
            table.reserveCapacity(merges.count)
            var unusable = 0
            var joined: [UInt8] = []   // reused: the merged token's bytes
            // Backwards, so that a rule listed twice ends with its first (lowest) rank, as with
            // llama.cpp's `emplace`.
            for rank in merges.indices.reversed() {
                var rule = merges[rank]
                let ids: (Int32, Int32, Int32)? = rule.withUTF8 { utf8 in
                    // Split at the first space after the first byte, as llama.cpp does
                    // (`find(' ', 1)`); in the byte-level alphabet no token contains a space.
                    guard utf8.count > 2, let space = utf8[1...].firstIndex(of: 0x20) else { return nil }
                    let left = UnsafeBufferPointer(rebasing: utf8[..<space])
                    let right = UnsafeBufferPointer(rebasing: utf8[(space + 1)...])
                    joined.removeAll(keepingCapacity: true)
                    joined.append(contentsOf: left)
                    joined.append(contentsOf: right)
                    guard let l = index.id(of: left), let r = index.id(of: right),
                          let merged = joined.withUnsafeBufferPointer({ index.id(of: $0) }) else { return nil }
                    return (l, r, merged)
                }
                guard let (l, r, merged) = ids else {
                    unusable += 1
                    continue
                }
                let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
                table[key] = UInt64(UInt32(rank)) << 32 | UInt64(UInt32(bitPattern: merged))
            }
            self.table = table
            self.unusable = unusable
        }

        var count: Int { table.count }

        /// The rank and merged id of the pair `(left, right)`, packed `rank << 32 | merged`.
        @inline(__always)
        func lookup(_ left: Int32, _ right: Int32) -> UInt64? {
            table[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))]
        }
    }
}
