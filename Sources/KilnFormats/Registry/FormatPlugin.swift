import Foundation
import KilnCore

/// A checkpoint layout Kiln can read (and perhaps write). Each plugin lives in its own folder
/// and is listed once, in `FormatRegistry.builtin`; adding a format touches no other plugin.
public protocol FormatPlugin: Sendable {
    /// Short name used on the command line (`--from safetensors`).
    var name: String { get }
    /// One line for `kiln formats`.
    var summary: String { get }
    /// Extensions (without the dot) that suggest this format when sniffing is inconclusive.
    var fileExtensions: [String] { get }
    /// Whether the first bytes of a file look like this format.
    func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool
    /// Opens a checkpoint: lists tensors and metadata without reading tensor data.
    func open(_ path: String) throws -> any CheckpointReader
    /// The format's writer; nil when Kiln only reads it.
    var writer: (any FormatWriter)? { get }
}

extension FormatPlugin {
    /// None: a plugin reads only unless it says otherwise.
    public var writer: (any FormatWriter)? { nil }
}

/// The formats Kiln knows, and how a file is matched to one: an explicit name first, then the
/// file's magic bytes, then its extension.
public enum FormatRegistry {
    /// Every format Kiln knows, in the order detection tries them.
    public static let builtin: [any FormatPlugin] = [
        KilnFormatPlugin(),
        ShardedSafetensorsFormatPlugin(),
        ShardedPyTorchFormatPlugin(),
        SafetensorsFormatPlugin(),
        GGUFFormatPlugin(),
        NumPyFormatPlugin(),
        PyTorchFormatPlugin(),
        LLMCFormatPlugin(),
        Llama2cFormatPlugin(),
    ]

    /// The built-in plugin with this short name (case ignored), or nil.
    public static func plugin(named name: String) -> (any FormatPlugin)? {
        builtin.first { $0.name == name.lowercased() }
    }

    /// The plugin that writes `format`, or, without a name, the one whose extension `path` has.
    ///
    /// - Throws: ``/KilnCore/KilnError`` (`.usage`) if the format is not one Kiln writes, or
    ///   the extension names none.
    public static func writer(for path: String, format: String? = nil) throws -> any FormatWriter {
        let writable = builtin.filter { $0.writer != nil }
        let known = writable.map(\.name).joined(separator: ", ")
        if let format {
            guard let writer = plugin(named: format)?.writer else {
                throw KilnError(.usage, "Kiln cannot write '\(format)'; it writes \(known)")
            }
            return writer
        }
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        guard let writer = writable.first(where: { $0.fileExtensions.contains(ext) })?.writer else {
            throw KilnError(.usage, "cannot tell the output format from the extension '.\(ext)'; pass --to (\(known))", file: path)
        }
        return writer
    }

    /// Finds the plugin for `path` (or uses `format` when given) and opens the file.
    ///
    /// - Throws: ``/KilnCore/KilnError``: as ``detect(_:format:)``, or as the plugin's reader
    ///   does for a file it cannot read.
    public static func open(_ path: String, format: String? = nil) throws -> any CheckpointReader {
        let path = try checkpoint(in: path)
        return try detect(path, format: format).open(path)
    }

    /// The file to open for `path`: `path` itself, or, when it is a folder (a Hugging Face
    /// checkpoint as `save_pretrained` writes it), the checkpoint inside — the shard index
    /// first, then `model.safetensors`, the PyTorch twins, then the folder's only model file.
    ///
    /// - Throws: ``/KilnCore/KilnError`` (`.usage`) for a folder holding no checkpoint, or
    ///   several that none of the standard names picks out.
    public static func checkpoint(in path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return path }
        let folder = path.hasSuffix("/") ? String(path.dropLast()) : path
        let standard = ["model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json", "pytorch_model.bin"]
        if let name = standard.first(where: { FileManager.default.fileExists(atPath: folder + "/" + $0) }) {
            return folder + "/" + name
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let modelExtensions = Set(builtin.flatMap(\.fileExtensions)).subtracting(["json", "txt"])
        let models = entries.filter { modelExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }.sorted()
        guard models.count == 1 else {
            throw KilnError(.usage, models.isEmpty
                ? "is a folder with no checkpoint in it (looked for \(standard.joined(separator: ", ")) and model files)"
                : "is a folder with several checkpoints (\(models.joined(separator: ", "))); name one", file: path)
        }
        return folder + "/" + models[0]
    }

    /// The plugin for `path`: the one named `format` when given; else the first whose magic
    /// bytes (or, for path-aware plugins, path and size) match; else the first claiming the
    /// file's extension.
    ///
    /// - Throws: ``/KilnCore/KilnError``: `.usage` for an unknown `format`; `.unsupported` when
    ///   nothing recognises the file; `.io` if it cannot be read.
    public static func detect(_ path: String, format: String? = nil) throws -> any FormatPlugin {
        if let format {
            guard let plugin = plugin(named: format) else {
                throw KilnError(.usage, "unknown format '\(format)'; known: \(builtin.map(\.name).joined(separator: ", "))")
            }
            return plugin
        }
        let (prefix, fileSize) = try readPrefix(path, count: 64)
        if let plugin = prefix.withUnsafeBytes({ bytes in builtin.first { $0.claims(path: path, prefix: bytes, fileSize: fileSize) } }) {
            return plugin
        }
        let ext = path.split(separator: ".").last.map { String($0).lowercased() } ?? ""
        if let plugin = builtin.first(where: { $0.fileExtensions.contains(ext) }) {
            return plugin
        }
        throw KilnError(.unsupported,
            "not a checkpoint format Kiln recognises (neither the first bytes nor the extension match); known: \(builtin.map(\.name).joined(separator: ", "))",
            file: path)
    }

    private static func readPrefix(_ path: String, count: Int) throws -> ([UInt8], Int) {
        let mapping = try MappedFile(path: path)
        return (Array(mapping.bytes.prefix(count)), mapping.count)
    }
}
