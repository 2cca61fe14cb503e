import KilnCore

/// A sharded PyTorch checkpoint: opened from its `*.bin.index.json`, or from any shard with
/// such an index beside it (then the whole set is opened, not just that shard).
public struct ShardedPyTorchFormatPlugin: PathAwareFormatPlugin {
    public init() {}
    public var name: String { "pytorch-sharded" }
    public var summary: String { "PyTorch checkpoints split into shards (pytorch_model.bin.index.json)" }
    public var fileExtensions: [String] { ["json"] }

    /// An index is JSON, so it has no magic bytes of its own.
    public func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool { false }

    public func recognises(path: String, prefix: UnsafeRawBufferPointer, fileSize: Int) -> Bool {
        if path.hasSuffix(".bin.index.json") || path.hasSuffix(".pt.index.json") { return true }
        guard PyTorchFormatPlugin().sniff(prefix) else { return false }
        return ShardIndex.path(besideShard: path) != nil
    }

    public func open(_ path: String) throws -> any CheckpointReader {
        try ShardedPyTorchFile(path: path)
    }
}
