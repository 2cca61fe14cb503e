import KilnCore

/// A sharded safetensors checkpoint: opened from its `*.safetensors.index.json`, or from any
/// shard with such an index beside it (then the whole set is opened, not just that shard).
public struct ShardedSafetensorsFormatPlugin: PathAwareFormatPlugin {
    public init() {}
    public var name: String { "safetensors-sharded" }
    public var summary: String { "Hugging Face safetensors split into shards (model.safetensors.index.json)" }
    public var fileExtensions: [String] { ["json"] }

    /// An index is JSON, so it has no magic bytes of its own.
    public func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool { false }

    public func recognises(path: String, prefix: UnsafeRawBufferPointer, fileSize: Int) -> Bool {
        if path.hasSuffix(".safetensors.index.json") { return true }
        guard SafetensorsFormatPlugin().sniff(prefix) else { return false }
        return ShardIndex.path(besideShard: path) != nil
    }

    public func open(_ path: String) throws -> any CheckpointReader {
        try ShardedSafetensorsFile(path: path)
    }
}
