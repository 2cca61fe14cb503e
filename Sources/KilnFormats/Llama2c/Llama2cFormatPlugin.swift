import KilnCore

/// llama2.c `.bin` checkpoints (legacy version 0, version 1 fp32, version 2 Q8_0 groups).
package struct Llama2cFormatPlugin: PathAwareFormatPlugin {
    package init() {}
    package var name: String { "llama2c" }
    package var summary: String { "llama2.c model .bin (legacy v0, v1 fp32, v2 int8 groups)" }
    package var fileExtensions: [String] { ["bin"] }

    /// Versions 1 and 2 start with "ak42"; version 0 has no magic (see `recognises`).
    package func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool { Llama2cHeader.hasMagic(prefix) }

    /// A legacy file is recognised only by a `.bin` name and a header whose implied size is the
    /// file's size. Zip files (PyTorch's `pytorch_model.bin`) are never taken for one.
    package func recognises(path: String, prefix: UnsafeRawBufferPointer, fileSize: Int) -> Bool {
        if sniff(prefix) { return true }
        guard path.lowercased().hasSuffix(".bin"), !prefix.starts(with: PyTorchFormatPlugin.zipMagic) else { return false }
        return Llama2cLayout.isConsistent(prefix, fileSize: fileSize)
    }

    package func open(_ path: String) throws -> any CheckpointReader {
        try Llama2cLayout.open(try MappedFile(path: path))
    }
}
