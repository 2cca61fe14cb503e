import KilnCore

/// `torch.save` checkpoints: `pytorch_model.bin`, `*.pt`, `*.pth`, nanoGPT's `ckpt.pt`.
package struct PyTorchFormatPlugin: FormatPlugin {
    package init() {}
    package var name: String { "pytorch" }
    package var summary: String { "PyTorch torch.save checkpoints (zip and legacy), read without running the pickle" }
    /// Not `bin`: PyTorch's `.bin` files are recognised by their bytes, and llama2.c's are not.
    package var fileExtensions: [String] { ["pt", "pth", "ckpt"] }

    static let zipMagic: [UInt8] = [0x50, 0x4B, 0x03, 0x04]

    package func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool {
        prefix.starts(with: Self.zipMagic) || prefix.starts(with: PyTorchLegacyLoader.signature) || Self.looksLikePickle(prefix)
    }

    /// Every pickle opcode byte (protocols 0–5).
    static let opcodes: Set<UInt8> = Set("().012FIJKLMNPQRSTUVXabcdeghijloprstu}]GBC".utf8).union(0x80...0x98)

    /// PROTO 2–5 followed by an opcode. (A bare 0x80 0x02 is also how a llama2.c header with
    /// dim 640 begins; its third byte is 0, which is no opcode.)
    static func looksLikePickle(_ prefix: UnsafeRawBufferPointer) -> Bool {
        guard prefix.count >= 3, prefix[0] == 0x80, (2...5).contains(prefix[1]) else { return false }
        return opcodes.contains(prefix[2])
    }

    package func open(_ path: String) throws -> any CheckpointReader {
        let mapping = try MappedFile(path: path)
        return try withFileContext(path) {
            let bytes = mapping.bytes
            if bytes.starts(with: Self.zipMagic) { return try PyTorchZipLoader.open(mapping) }
            if bytes.starts(with: PyTorchLegacyLoader.signature) { return try PyTorchLegacyLoader.open(mapping) }
            if Self.looksLikePickle(UnsafeRawBufferPointer(rebasing: bytes.prefix(3))) {
                // Run it anyway, so a hostile pickle is reported for what it is; a harmless one
                // still has no tensor data, since storages live outside the pickle.
                var machine = PickleMachine(bytes, baseOffset: 0, source: "(bare pickle)", persistentIDs: .refused)
                _ = try machine.run()
                throw KilnError(.unsupported, "a plain pickle without tensor data, not a torch.save checkpoint; save the tensors with torch.save(state_dict, path)")
            }
            // torch.save before 0.4 wrote a tar archive ("ustar" at byte 257).
            if bytes.count > 262, bytes[257..<262].elementsEqual("ustar".utf8) {
                throw KilnError(.unsupported, "a tar-format torch.save file (PyTorch < 0.4); load it with torch and re-save it with torch.save(obj, path)")
            }
            throw KilnError.malformed("neither a torch.save zip archive, a legacy torch.save file nor a pickle", at: 0)
        }
    }
}
