import Foundation

extension BPETokenizer {
    /// Bytes as a dictionary key (the word cache's). Compared as bytes, as llama.cpp compares
    /// `std::string`s: a `String` key would hash through Unicode normalisation — slow for non-ASCII
    /// text, and it would make `é` and `e\u{301}` the same word. Hashed and compared in one call
    /// each rather than byte by byte, as `Array`'s own conformances do.
    struct ByteKey: Hashable, Sendable {
        let bytes: [UInt8]

        init(_ bytes: [UInt8]) { self.bytes = bytes }
        init(_ bytes: ArraySlice<UInt8>) { self.bytes = Array(bytes) }

        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }

        static func == (a: ByteKey, b: ByteKey) -> Bool {
            a.bytes.count == b.bytes.count && a.bytes.withUnsafeBytes { x in
                b.bytes.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
            }
        }
    }
}
