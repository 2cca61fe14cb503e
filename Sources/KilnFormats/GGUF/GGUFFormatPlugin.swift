import KilnCore

public struct GGUFFormatPlugin: FormatPlugin {
    public init() {}
    public var name: String { "gguf" }
    public var summary: String { "GGUF v2/v3, little-endian (llama.cpp, ggml)" }
    public var fileExtensions: [String] { ["gguf"] }

    /// The magic "GGUF". (The version is checked on open, so a big-endian or v1 file is
    /// recognised and then refused with a clear message.)
    public func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool {
        prefix.count >= 4 && prefix.prefix(4).elementsEqual(GGUFFile.magic)
    }

    public func open(_ path: String) throws -> any CheckpointReader {
        try GGUFFile(path: path)
    }
}
