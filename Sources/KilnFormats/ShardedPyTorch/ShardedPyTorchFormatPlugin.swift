import KilnCore

/// A sharded PyTorch checkpoint: opened from its `*.bin.index.json`, or from any shard with
/// such an index beside it (then the whole set is opened, not just that shard).
package struct ShardedPyTorchFormatPlugin: PathAwareFormatPlugin {
    package init() {}
    package var name: String { "pytorch-sharded" }
    package var summary: String { "PyTorch checkpoints split into shards (pytorch_model.bin.index.json)" }
    package var fileExtensions: [String] { ["json"] }

    /// An index is JSON, so it has no magic bytes of its own.
    package func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool { false }

    package func recognises(path: String, prefix: UnsafeRawBufferPointer, fileSize: Int) -> Bool {
        if path.hasSuffix(".bin.index.json") || path.hasSuffix(".pt.index.json") { return true }
        guard PyTorchFormatPlugin().sniff(prefix) else { return false }
        return ShardIndex.path(besideShard: path) != nil
    }

    package func open(_ path: String) throws -> any CheckpointReader {
        try ShardedPyTorchFile(path: path)
    }
}
