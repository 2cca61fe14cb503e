import CKilnSupport

/// XXH64 (seed 0 unless given): the 64-bit checksum of `.kiln` headers and tensors.
public struct XXH64 {
    private var state = kiln_xxh64_state()

    public init(seed: UInt64 = 0) {
        kiln_xxh64_reset(&state, seed)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        kiln_xxh64_update(&state, base, bytes.count)
    }

    public func digest() -> UInt64 {
        withUnsafePointer(to: state) { kiln_xxh64_digest($0) }
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        kiln_xxh64(bytes.baseAddress, bytes.count, seed)
    }
}

/// SHA-256, used for provenance: the hashes users compare with their model hub's listing.
public struct SHA256 {
    private var state = kiln_sha256_state()

    public init() {
        kiln_sha256_init(&state)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        kiln_sha256_update(&state, base, bytes.count)
    }

    /// The digest as 64 lowercase hex digits.
    public mutating func finalize() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { kiln_sha256_final(&state, $0.baseAddress!) }
        return out.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }
}
