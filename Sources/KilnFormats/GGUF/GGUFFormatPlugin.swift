import KilnCore

package struct GGUFFormatPlugin: FormatPlugin {
    package init() {}
    package var name: String { "gguf" }
    package var summary: String { "GGUF v2/v3, little-endian (llama.cpp, ggml)" }
    package var fileExtensions: [String] { ["gguf"] }

    /// The magic "GGUF". (The version is checked on open, so a big-endian or v1 file is
    /// recognised and then refused with a clear message.)
    package func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool {
        prefix.count >= 4 && prefix.prefix(4).elementsEqual(GGUFFile.magic)
    }

    package var writer: (any FormatWriter)? { GGUFWriter() }

    package func open(_ path: String) throws -> any CheckpointReader {
        try GGUFFile(path: path)
    }
}
