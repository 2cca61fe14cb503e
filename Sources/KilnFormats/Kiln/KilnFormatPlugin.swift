import KilnCore

/// Kiln's own format, read through `KilnFile`.
package struct KilnFormatPlugin: FormatPlugin {
    package init() {}
    package var name: String { "kiln" }
    package var summary: String { "Kiln's memory-mapped model file (docs/FORMAT.md)" }
    package var fileExtensions: [String] { ["kiln"] }

    package func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool {
        prefix.count >= 4 && prefix.prefix(4).elementsEqual(KilnLayout.magic)
    }

    package var writer: (any FormatWriter)? { KilnFormatWriter() }

    package func open(_ path: String) throws -> any CheckpointReader {
        try KilnFile(path: path)
    }
}
