import KilnCore

/// NumPy `.npy` arrays and `.npz` archives of them.
package struct NumPyFormatPlugin: PathAwareFormatPlugin {
    package init() {}
    package var name: String { "numpy" }
    package var summary: String { "NumPy .npy arrays (versions 1–3) and .npz archives (stored or deflated)" }
    package var fileExtensions: [String] { ["npy", "npz"] }

    /// `\x93NUMPY`, or a zip whose first member (its name is in the first bytes) is an `.npy`.
    package func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool {
        if prefix.starts(with: NpyHeader.magic) { return true }
        guard prefix.count >= 30, prefix.starts(with: PyTorchFormatPlugin.zipMagic) else { return false }
        let nameLength = Int(UInt16(littleEndian: prefix.loadUnaligned(fromByteOffset: 26, as: UInt16.self)))
        guard nameLength >= 4, 30 + nameLength <= prefix.count else { return false }
        return prefix[(30 + nameLength - 4)..<(30 + nameLength)].elementsEqual(".npy".utf8)
    }

    /// Also any zip named `.npz` (its first member name may be longer than the sniffed bytes).
    package func recognises(path: String, prefix: UnsafeRawBufferPointer, fileSize: Int) -> Bool {
        sniff(prefix) || (path.lowercased().hasSuffix(".npz") && prefix.starts(with: PyTorchFormatPlugin.zipMagic))
    }

    package func open(_ path: String) throws -> any CheckpointReader {
        try NumPyFile(path: path)
    }
}
