import CKilnSupport

/// XXH64 (seed 0 unless given): the 64-bit checksum of `.kiln` headers and tensors.
///
/// Why our own C (CKilnSupport) and not a package: none of the Swift packages Kiln may depend on
/// has XXH64, and the C here already hashes at memory speed (6–14 GB/s on one core,
/// `kiln-run bench --hashes`): it is 3% of a `.kiln` conversion's CPU time and never its bound.
package struct XXH64 {
    private var state = kiln_xxh64_state()

    package init(seed: UInt64 = 0) {
        kiln_xxh64_reset(&state, seed)
    }

    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        kiln_xxh64_update(&state, base, bytes.count)
    }

    package func digest() -> UInt64 {
        withUnsafePointer(to: state) { kiln_xxh64_digest($0) }
    }

    package static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        kiln_xxh64(bytes.baseAddress, bytes.count, seed)
    }
}
