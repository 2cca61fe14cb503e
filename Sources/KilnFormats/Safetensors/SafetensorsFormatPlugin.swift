import KilnCore

package struct SafetensorsFormatPlugin: FormatPlugin {
    package init() {}
    package var name: String { "safetensors" }
    package var summary: String { "Hugging Face safetensors (single file)" }
    package var fileExtensions: [String] { ["safetensors"] }

    /// An 8-byte header length within the format's limit, then a JSON object (leading
    /// whitespace allowed, as writers may pad).
    package func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool {
        guard prefix.count >= 9 else { return false }
        let length = UInt64(littleEndian: prefix.loadUnaligned(as: UInt64.self))
        guard length >= 2, length <= UInt64(SafetensorsFile.maxHeaderSize) else { return false }
        for byte in prefix.dropFirst(8) {
            if byte == UInt8(ascii: "{") { return true }
            if byte != 0x20 && byte != 0x0A && byte != 0x0D && byte != 0x09 { return false }
        }
        return false
    }

    package var writer: (any FormatWriter)? { SafetensorsWriter() }

    package func open(_ path: String) throws -> any CheckpointReader {
        try SafetensorsFile(path: path)
    }
}
