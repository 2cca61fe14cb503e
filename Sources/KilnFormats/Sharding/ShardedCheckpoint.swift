import Foundation
import KilnCore

/// A checkpoint split over several files, tied together by an index (`{"metadata": {...},
/// "weight_map": {tensor: shard file}}`: `model.safetensors.index.json`,
/// `pytorch_model.bin.index.json`), opened as one reader. Every shard is opened and validated
/// as a single file of its format; the index and the shards must then agree exactly: each
/// weight_map entry names an existing shard that holds that tensor, every shard tensor is in
/// the weight_map, and no tensor is in two shards. Tensor data comes from the shard's own
/// reader (zero-copy views where it gives them).
package final class ShardedCheckpoint<Shard: CheckpointReader>: CheckpointReader, @unchecked Sendable {
    // Sendable: immutable after init.
    package let indexPath: String
    package let shards: [Shard]
    package let metadata: [String: MetadataValue]
    package let sourceTensors: [SourceTensor]
    package let formatName: String
    private let shardOfTensor: [String: Int]
    package var paths: [String] { [indexPath] + shards.map { $0.paths.first ?? "" } }

    /// Opens the set from its index, or from any shard that has an index beside it.
    convenience init(path: String, formatName: String, open: (String) throws -> Shard) throws {
        if path.hasSuffix(".json") {
            try self.init(indexPath: path, formatName: formatName, open: open)
        } else {
            guard let index = ShardIndex.path(besideShard: path) else {
                throw KilnError(.usage, "no *.index.json beside this file lists it as a shard", file: path)
            }
            try self.init(indexPath: index, formatName: formatName, open: open)
        }
    }

    /// `open` reads one shard; `formatName` is the shards' format.
    init(indexPath: String, formatName: String, open: (String) throws -> Shard) throws {
        self.indexPath = indexPath
        self.formatName = formatName
        let index = try withFileContext(indexPath) { try ShardIndex(try MappedFile(path: indexPath)) }
        let directory = URL(fileURLWithPath: indexPath).deletingLastPathComponent()

        // Shards in name order (model-00001-of-…, model-00002-of-…), so tensors stream in file order.
        let shardNames = Set(index.weightMap.values).sorted()
        var shards: [Shard] = []
        for name in shardNames {
            let shardPath = directory.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: shardPath) else {
                let example = index.weightMap.first { $0.value == name }!.key
                throw KilnError.malformed("weight_map sends tensor '\(example)' to shard '\(name)', which does not exist beside the index",
                                          "weight_map").inFile(indexPath)
            }
            shards.append(try open(shardPath))
        }

        var shardOfTensor: [String: Int] = [:]
        var tensors: [SourceTensor] = []
        var metadata: [String: MetadataValue] = [:]
        for (number, shard) in shards.enumerated() {
            let shardPath = directory.appendingPathComponent(shardNames[number]).path
            for tensor in shard.sourceTensors {
                if let other = shardOfTensor.updateValue(number, forKey: tensor.name) {
                    throw KilnError.malformed("tensor '\(tensor.name)' is in two shards: '\(shardNames[other])' and '\(shardNames[number])'",
                                              "tensor '\(tensor.name)'").inFile(shardPath)
                }
                guard let listed = index.weightMap[tensor.name] else {
                    throw KilnError.malformed("shard '\(shardNames[number])' holds tensor '\(tensor.name)', which the index's weight_map does not list",
                                              "tensor '\(tensor.name)'").inFile(indexPath)
                }
                guard listed == shardNames[number] else {
                    throw KilnError.malformed("weight_map puts tensor '\(tensor.name)' in '\(listed)' but it is in '\(shardNames[number])'",
                                              "tensor '\(tensor.name)'").inFile(indexPath)
                }
                tensors.append(tensor)
            }
            // Shards of one save carry the same metadata; the first shard's value wins if not.
            for (key, value) in shard.metadata where metadata[key] == nil { metadata[key] = value }
        }
        for (tensor, shard) in index.weightMap.sorted(by: { $0.key < $1.key }) where shardOfTensor[tensor] == nil {
            throw KilnError.malformed("weight_map lists tensor '\(tensor)' in shard '\(shard)', but that shard does not hold it",
                                      "tensor '\(tensor)'").inFile(indexPath)
        }
        if !index.metadata.isEmpty { metadata["index"] = .map(index.metadata) }

        self.shards = shards
        self.shardOfTensor = shardOfTensor
        self.sourceTensors = tensors
        self.metadata = metadata
    }

    package func data(_ tensor: SourceTensor) throws -> TensorData {
        guard let shard = shardOfTensor[tensor.name] else {
            throw KilnError(.usage, "no tensor named '\(tensor.name)'", file: indexPath)
        }
        return try shards[shard].data(tensor)
    }

    package func release(_ tensor: SourceTensor) {
        if let shard = shardOfTensor[tensor.name] { shards[shard].release(tensor) }
    }
}
