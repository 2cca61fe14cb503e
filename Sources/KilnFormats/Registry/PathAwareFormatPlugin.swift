import KilnCore

/// A plugin that needs more than a file's first bytes to recognise it: formats with no magic
/// number (llama2.c's legacy header, recognised by extension and by its size agreeing with the
/// header) and checkpoints spread over several files (a sharded safetensors set, recognised
/// by the index beside a shard). `FormatRegistry.detect` asks these instead of `sniff`.
public protocol PathAwareFormatPlugin: FormatPlugin {
    /// Whether the file at `path` (`fileSize` bytes, starting with `prefix`, up to 64 bytes) is
    /// in this format.
    func recognises(path: String, prefix: UnsafeRawBufferPointer, fileSize: Int) -> Bool
}

extension FormatPlugin {
    /// `recognises` for path-aware plugins, `sniff` for the others.
    func claims(path: String, prefix: UnsafeRawBufferPointer, fileSize: Int) -> Bool {
        if let aware = self as? any PathAwareFormatPlugin {
            return aware.recognises(path: path, prefix: prefix, fileSize: fileSize)
        }
        return sniff(prefix)
    }
}
