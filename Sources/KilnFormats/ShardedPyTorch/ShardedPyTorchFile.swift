import KilnCore

/// A `torch.save` checkpoint in shards, as transformers wrote them before safetensors became
/// the default (`pytorch_model.bin.index.json` + `pytorch_model-0000N-of-….bin`).
package typealias ShardedPyTorchFile = ShardedCheckpoint<PyTorchCheckpoint>

extension ShardedCheckpoint where Shard == PyTorchCheckpoint {
    /// Opens the set from its index, or from any shard that has an index beside it.
    package convenience init(path: String) throws {
        try self.init(path: path, formatName: "pytorch") { shard in
            guard let checkpoint = try PyTorchFormatPlugin().open(shard) as? PyTorchCheckpoint else {
                throw KilnError(.unsupported, "is not a torch.save checkpoint", file: shard)
            }
            return checkpoint
        }
    }
}
