import Crypto

/// SHA-256, used for provenance: the hashes users compare with their model hub's listing.
///
/// Through swift-crypto (BoringSSL on Linux, CryptoKit on Apple platforms), which uses the CPU's
/// SHA instructions where it has them: on this project's x86_64 machine one core hashed 0.25 GB/s
/// with the portable C this replaced and 1.5 GB/s with it (`kiln-run bench --hashes`). Hashing
/// a source file runs beside every `.kiln` conversion and was its bound.
///
/// `package`: only Kiln's own modules hash, and a public `SHA256` would clash with CryptoKit's
/// in apps that import both.
package struct SHA256 {
    private var hasher = Crypto.SHA256()

    package init() {}

    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    /// The digest as 64 lowercase hex digits.
    package func finalize() -> String {
        Self.hex(digest: hasher.finalize())
    }

    package static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The size and digest of the file at `path`, read through a mapping in chunks whose pages
    /// are dropped once hashed: a conversion hashes its sources beside the work that reads them,
    /// and hashing a 270 MB source in one pass kept all of it resident (SmolLM2's f16 GGUF
    /// quantised to q4_k_m peaked at 401 MB, 270 MB of it the hash's pages).
    package static func hexOfFile(_ path: String) throws -> (bytes: Int, hex: String) {
        let chunk = 64 << 20
        let mapping = try MappedFile(path: path)
        mapping.advise(.sequential)
        var hasher = SHA256()
        var offset = 0
        while offset < mapping.count {
            let end = min(offset + chunk, mapping.count)
            hasher.update(UnsafeRawBufferPointer(rebasing: mapping.bytes[offset..<end]))
            mapping.advise(.dontNeed, range: offset..<end)
            offset = end
        }
        return (mapping.count, hasher.finalize())
    }

    private static func hex(digest: Crypto.SHA256.Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(2 * Crypto.SHA256.byteCount)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
