import KilnCore
import TestSupport
import Testing

/// XXH64 and SHA-256 against vectors made by Python's `xxhash` package and `hashlib`
/// (Tools/make_fixtures.py → Fixtures/hashes/vectors.json).
struct HashTests {
    static let vectors = try! readJSON(Repository.fixture("hashes/vectors.json"))

    static func input(length: Int) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    }

    @Test func lengthVectors() throws {
        let vectors = try #require(Self.vectors["vectors"]?.arrayValue)
        #expect(vectors.count > 70)
        for vector in vectors {
            let length = try #require(vector["length"]?.intValue)
            let data = Self.input(length: length)
            let xxh = data.withUnsafeBytes { XXH64.hash($0) }
            #expect(String(xxh, radix: 16).leftPadded(16) == vector["xxh64_seed0"]?.stringValue, "length \(length)")
            #expect(data.withUnsafeBytes { SHA256.hex($0) } == vector["sha256"]?.stringValue, "length \(length)")
        }
    }

    @Test func stringVectors() throws {
        for vector in try #require(Self.vectors["strings"]?.arrayValue) {
            let text = Array(try #require(vector["utf8"]?.stringValue).utf8)
            #expect(String(text.withUnsafeBytes { XXH64.hash($0) }, radix: 16).leftPadded(16) == vector["xxh64_seed0"]?.stringValue)
            #expect(text.withUnsafeBytes { SHA256.hex($0) } == vector["sha256"]?.stringValue)
        }
    }

    /// Feeding the input in pieces of any size gives the one-shot digest.
    @Test func streamingEqualsOneShot() {
        var random = SeededRandom(seed: 7)
        let data = random.bytes(10_000)
        let expectedXXH = data.withUnsafeBytes { XXH64.hash($0) }
        let expectedSHA = data.withUnsafeBytes { SHA256.hex($0) }
        for pieceSize in [1, 3, 31, 32, 33, 64, 100, 4096] {
            var xxh = XXH64()
            var sha = SHA256()
            data.withUnsafeBytes { all in
                var start = 0
                while start < all.count {
                    let piece = UnsafeRawBufferPointer(rebasing: all[start..<min(all.count, start + pieceSize)])
                    xxh.update(piece)
                    sha.update(piece)
                    start += pieceSize
                }
            }
            #expect(xxh.digest() == expectedXXH, "piece size \(pieceSize)")
            #expect(sha.finalize() == expectedSHA, "piece size \(pieceSize)")
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
