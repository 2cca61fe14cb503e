import Foundation
import KilnCore

/// A safetensors checkpoint split over several files, tied together by an index
/// (`model.safetensors.index.json`: `{"metadata": {...}, "weight_map": {tensor: shard file}}`),
/// opened as one reader. Every shard is opened and validated as a single safetensors file;
/// the index and the shards must then agree exactly: each weight_map entry names an existing
/// shard that holds that tensor, every shard tensor is in the weight_map, and no tensor is in
/// two shards. Tensor data stays zero-copy views into each shard's mapping.
package final class ShardedSafetensorsFile: CheckpointReader, @unchecked Sendable {
    // Sendable: immutable after init.
    /// An index larger than this is not an index (real ones are a few hundred KB).
    package static let maxIndexSize = 64 << 20

    package let indexPath: String
    package let shards: [SafetensorsFile]
    package let metadata: [String: MetadataValue]
    package let sourceTensors: [SourceTensor]
    private let shardOfTensor: [String: Int]
    package var formatName: String { "safetensors" }
    package var paths: [String] { [indexPath] + shards.map(\.path) }

    /// Opens the set from its index, or from any shard that has an index beside it.
    package convenience init(path: String) throws {
        if path.hasSuffix(".json") {
            try self.init(indexPath: path)
        } else {
            guard let index = Self.index(besideShard: path) else {
                throw KilnError(.usage, "no *.safetensors.index.json beside this file lists it as a shard", file: path)
            }
            try self.init(indexPath: index)
        }
    }

    package init(indexPath: String) throws {
        self.indexPath = indexPath
        let index = try withFileContext(indexPath) { try Self.parseIndex(try MappedFile(path: indexPath)) }
        let directory = URL(fileURLWithPath: indexPath).deletingLastPathComponent()

        // Shards in name order (model-00001-of-…, model-00002-of-…), so tensors stream in file order.
        let shardNames = Set(index.weightMap.values).sorted()
        var shards: [SafetensorsFile] = []
        for name in shardNames {
            let shardPath = directory.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: shardPath) else {
                let example = index.weightMap.first { $0.value == name }!.key
                throw KilnError.malformed("weight_map sends tensor '\(example)' to shard '\(name)', which does not exist beside the index",
                                          "weight_map").inFile(indexPath)
            }
            shards.append(try SafetensorsFile(path: shardPath))
        }

        var shardOfTensor: [String: Int] = [:]
        var tensors: [SourceTensor] = []
        var metadata: [String: MetadataValue] = [:]
        for (number, shard) in shards.enumerated() {
            for tensor in shard.sourceTensors {
                if let other = shardOfTensor.updateValue(number, forKey: tensor.name) {
                    throw KilnError.malformed("tensor '\(tensor.name)' is in two shards: '\(shardNames[other])' and '\(shardNames[number])'",
                                              "tensor '\(tensor.name)'").inFile(shard.path)
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
            // Shards of one save carry the same __metadata__; the first shard's value wins if not.
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

    // MARK: Index

    struct Index {
        var weightMap: [String: String]
        var metadata: [String: MetadataValue]
    }

    static func parseIndex(_ mapping: MappedFile) throws -> Index {
        guard mapping.count <= maxIndexSize else {
            throw KilnError.malformed("index is \(mapping.count) bytes, more than the \(maxIndexSize) an index can reasonably be", at: 0)
        }
        let json = try JSONValue.parse(mapping.bytes, maxDepth: 16)
        guard case .object(let top) = json else {
            throw KilnError.malformed("index is \(json.typeName), expected a JSON object with a \"weight_map\"", at: 0)
        }
        guard case .object(let entries)? = top["weight_map"] else {
            throw KilnError.malformed("index has no \"weight_map\" object", at: 0, "weight_map")
        }
        var weightMap: [String: String] = [:]
        for (tensor, value) in entries {
            guard case .string(let shard) = value else {
                throw KilnError.malformed("weight_map value for '\(tensor)' is \(value.typeName), expected a shard file name", at: 0, "weight_map")
            }
            // A shard is a file beside the index: a path could reach anywhere on the disk.
            guard !shard.isEmpty, !shard.contains("/"), !shard.contains("\\"), shard != ".", shard != ".." else {
                throw KilnError.malformed("weight_map sends '\(tensor)' to '\(shard)', which is not a plain file name beside the index", at: 0, "weight_map")
            }
            weightMap[tensor] = shard
        }
        var metadata: [String: MetadataValue] = [:]
        if let value = top["metadata"] {
            guard case .object(let map) = value else {
                throw KilnError.malformed("index \"metadata\" is \(value.typeName), expected an object", at: 0, "metadata")
            }
            metadata = map.compactMapValues(metadataValue)
        }
        return Index(weightMap: weightMap, metadata: metadata)
    }

    /// JSON → metadata; nulls are dropped (metadata has no null).
    static func metadataValue(_ json: JSONValue) -> MetadataValue? {
        switch json {
        case .null: return nil
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return .uint(u)
        case .double(let d): return .float(d)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.compactMap(metadataValue))
        case .object(let o): return .map(o.compactMapValues(metadataValue))
        }
    }

    /// The index beside `shard` whose weight_map names it, if there is one.
    static func index(besideShard shard: String) -> String? {
        let url = URL(fileURLWithPath: shard)
        let name = url.lastPathComponent
        let directory = url.deletingLastPathComponent()
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return nil }
        for candidate in files.sorted() where candidate.hasSuffix(".index.json") {
            let path = directory.appendingPathComponent(candidate).path
            guard let mapping = try? MappedFile(path: path), let index = try? parseIndex(mapping) else { continue }
            if index.weightMap.values.contains(name) { return path }
        }
        return nil
    }
}
