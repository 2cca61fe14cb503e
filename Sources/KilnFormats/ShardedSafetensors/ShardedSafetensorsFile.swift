/// A safetensors checkpoint in shards (`model.safetensors.index.json` + `model-0000N-of-…`).
package typealias ShardedSafetensorsFile = ShardedCheckpoint<SafetensorsFile>

extension ShardedCheckpoint where Shard == SafetensorsFile {
    /// Opens the set from its index, or from any shard that has an index beside it.
    package convenience init(path: String) throws {
        try self.init(path: path, formatName: "safetensors", open: SafetensorsFile.init(path:))
    }
}
