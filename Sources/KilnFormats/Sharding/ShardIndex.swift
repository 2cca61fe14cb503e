import Foundation
import KilnCore

/// The index of a sharded checkpoint (`*.safetensors.index.json`, `*.bin.index.json`):
/// `{"metadata": {...}, "weight_map": {tensor: shard file}}`. Shard names must be plain file
/// names beside the index.
package struct ShardIndex {
    /// An index larger than this is not an index (real ones are a few hundred KB).
    static let maxSize = 64 << 20

    var weightMap: [String: String]
    var metadata: [String: MetadataValue]

    package init(_ mapping: MappedFile) throws {
        guard mapping.count <= Self.maxSize else {
            throw KilnError.malformed("index is \(mapping.count) bytes, more than the \(Self.maxSize) an index can reasonably be", at: 0)
        }
        let json = try JSONValue.parse(mapping.bytes, maxDepth: 16)
        guard case .object(let top) = json else {
            throw KilnError.malformed("index is \(json.typeName), expected a JSON object with a \"weight_map\"", at: 0)
        }
        guard case .object(let entries)? = top["weight_map"] else {
            throw KilnError.malformed("index has no \"weight_map\" object", at: 0, "weight_map")
        }
        weightMap = [:]
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
        metadata = [:]
        if let value = top["metadata"] {
            guard case .object(let map) = value else {
                throw KilnError.malformed("index \"metadata\" is \(value.typeName), expected an object", at: 0, "metadata")
            }
            metadata = map.compactMapValues(Self.metadataValue)
        }
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
    static func path(besideShard shard: String) -> String? {
        let url = URL(fileURLWithPath: shard)
        let name = url.lastPathComponent
        let directory = url.deletingLastPathComponent()
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return nil }
        for candidate in files.sorted() where candidate.hasSuffix(".index.json") {
            let path = directory.appendingPathComponent(candidate).path
            guard let mapping = try? MappedFile(path: path), let index = try? ShardIndex(mapping) else { continue }
            if index.weightMap.values.contains(name) { return path }
        }
        return nil
    }
}
