import KilnCore

/// A sharded safetensors checkpoint: opened from its `*.safetensors.index.json`, or from any
/// shard with such an index beside it (then the whole set is opened, not just that shard).
package struct ShardedSafetensorsFormatPlugin: PathAwareFormatPlugin {
    package init() {}
    package var name: String { "safetensors-sharded" }
    package var summary: String { "Hugging Face safetensors split into shards (model.safetensors.index.json)" }
    package var fileExtensions: [String] { ["json"] }

    /// An index is JSON, so it has no magic bytes of its own.
    package func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool { false }

    package func recognises(path: String, prefix: UnsafeRawBufferPointer, fileSize: Int) -> Bool {
        if path.hasSuffix(".safetensors.index.json") { return true }
        guard SafetensorsFormatPlugin().sniff(prefix) else { return false }
        return ShardIndex.path(besideShard: path) != nil
    }

    package func open(_ path: String) throws -> any CheckpointReader {
        try ShardedSafetensorsFile(path: path)
    }
}
