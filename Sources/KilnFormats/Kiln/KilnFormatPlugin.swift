import KilnCore

/// Kiln's own format, read through `KilnFile`.
public struct KilnFormatPlugin: FormatPlugin {
    public init() {}
    public var name: String { "kiln" }
    public var summary: String { "Kiln's memory-mapped model file (docs/FORMAT.md)" }
    public var fileExtensions: [String] { ["kiln"] }

    public func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool {
        prefix.count >= 4 && prefix.prefix(4).elementsEqual(KilnLayout.magic)
    }

    public var writer: (any FormatWriter)? { KilnFormatWriter() }

    public func open(_ path: String) throws -> any CheckpointReader {
        try KilnFile(path: path)
    }
}
