import Foundation

extension BPETokenizer {
    /// Byte strings → ids, looked up without building a key: the vocabulary's token texts, for
    /// reading merge rules (three lookups per rule, hundreds of thousands of rules for Llama 3)
    /// and for `id(of:)`, and tokens' bytes for `ignore_merges`. An open-addressing table over
    /// one flat byte buffer; a lookup hashes the bytes where they lie and compares candidates
    /// with `memcmp`, so loading a vocabulary makes no allocation per token or per rule.
    struct TokenIndex: Sendable {
        /// The key of id `i` is `storage[starts[i]..<starts[i + 1]]`.
        private let storage: [UInt8]
        private let starts: [Int]
        /// Slots hold an id + 1; 0 is empty. A power of two, at most half full.
        private let slots: [Int32]

        /// Indexes `texts` by their UTF-8; a text's id is its position.
        init(_ texts: [String]) {
            var storage: [UInt8] = []
            var starts: [Int] = [0]
            starts.reserveCapacity(texts.count + 1)
            for var text in texts {
                text.withUTF8 { storage.append(contentsOf: $0) }
                starts.append(storage.count)
            }
            self.init(storage: storage, starts: starts, ids: (0..<Int32(texts.count)).map { $0 })
        }

        /// Indexes the keys of `ids` only. When two ids have the same key the later one in
        /// `ids` wins, as in llama.cpp's `token_to_id` map and transformers' vocabulary dict.
        init(storage: [UInt8], starts: [Int], ids: [Int32]) {
            var capacity = 16
            while capacity < ids.count * 2 { capacity *= 2 }
            var slots = [Int32](repeating: 0, count: capacity)
            storage.withUnsafeBufferPointer { all in
                for id in ids {
                    let bytes = UnsafeBufferPointer(rebasing: all[starts[Int(id)]..<starts[Int(id) + 1]])
                    var slot = Self.hash(bytes) & (capacity - 1)
                    while slots[slot] != 0 {
                        let other = Int(slots[slot]) - 1
                        if Self.equal(bytes, UnsafeBufferPointer(rebasing: all[starts[other]..<starts[other + 1]])) { break }
                        slot = (slot + 1) & (capacity - 1)
                    }
                    slots[slot] = id + 1   // a repeated key replaces the earlier one
                }
            }
            self.storage = storage
            self.starts = starts
            self.slots = slots
        }

        func id(of bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
            storage.withUnsafeBufferPointer { all in
                var slot = Self.hash(bytes) & (slots.count - 1)
                while slots[slot] != 0 {
                    let id = Int(slots[slot]) - 1
                    if Self.equal(bytes, UnsafeBufferPointer(rebasing: all[starts[id]..<starts[id + 1]])) { return Int32(id) }
                    slot = (slot + 1) & (slots.count - 1)
                }
                return nil
            }
        }

        func id(of text: String) -> Int32? {
            var text = text
            return text.withUTF8 { id(of: $0) }
        }

        func id(of bytes: ArraySlice<UInt8>) -> Int32? {
            bytes.withUnsafeBufferPointer { id(of: $0) }
        }

        /// FNV-1a, 64-bit: short keys (a token is a few bytes) hash in a few instructions each.
        /// Keys come from the model file, not from users, so a keyed hash buys nothing here.
        @inline(__always)
        private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in bytes { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
            return Int(truncatingIfNeeded: h ^ (h >> 32))
        }

        @inline(__always)
        private static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
            a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
        }
    }
}
