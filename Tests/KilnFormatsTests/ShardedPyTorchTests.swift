import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// A tiny Llama in three `torch.save` shards with `pytorch_model.bin.index.json`, as
/// transformers 4's `save_pretrained(safe_serialization=False, max_shard_size=...)` wrote it
/// (Tools/make_sharded_pytorch_fixtures.py, which checked that torch and transformers load it):
/// read as one model, every tensor equal to the unsharded safetensors twin the same script wrote.
struct ShardedPyTorchTests {
    static let directory = Repository.fixture("models/tiny-llama-pt-sharded")
    static let index = directory + "/pytorch_model.bin.index.json"
    static let twin = Repository.fixture("models/tiny-llama-pt-sharded-twin/model.safetensors")
    static let shardNames = (1...3).map { "pytorch_model-0000\($0)-of-00003.bin" }

    /// Same names, types, shapes and bytes as the twin.
    static func expectMatchesTwin(_ reader: any CheckpointReader) throws {
        let twin = try SafetensorsFile(path: Self.twin)
        #expect(Set(reader.sourceTensors.map(\.name)) == Set(twin.sourceTensors.map(\.name)))
        #expect(reader.sourceTensors.count == twin.sourceTensors.count, "no tensor twice")
        for tensor in reader.sourceTensors {
            let reference = try #require(twin.sourceTensors.first { $0.name == tensor.name }, "\(tensor.name)")
            #expect(tensor.type == reference.type && tensor.shape == reference.shape, "\(tensor.name)")
            let a = try reader.data(tensor), b = try twin.data(reference)
            withExtendedLifetime((a.owner, b.owner)) { #expect(Array(a.bytes) == Array(b.bytes), "\(tensor.name)") }
        }
    }

    @Test func opensTheWholeSetFromTheIndex() throws {
        #expect(try FormatRegistry.detect(Self.index).name == "pytorch-sharded")
        let reader = try FormatRegistry.open(Self.index)
        let sharded = try #require(reader as? ShardedPyTorchFile)
        #expect(sharded.shards.count == 3)
        #expect(reader.formatName == "pytorch")
        #expect(reader.paths == [Self.index] + Self.shardNames.map { Self.directory + "/" + $0 })
        #expect(reader.metadata["index"]?.mapValue?["total_size"]?.intValue == 26944)
        try Self.expectMatchesTwin(reader)
    }

    /// Given any shard, the registry finds the index beside it and opens every shard.
    @Test(arguments: shardNames)
    func opensTheWholeSetFromAnyShard(_ shard: String) throws {
        let path = Self.directory + "/" + shard
        #expect(try FormatRegistry.detect(path).name == "pytorch-sharded")
        try Self.expectMatchesTwin(try FormatRegistry.open(path))
    }

    @Test func tensorsAreViewsIntoTheShards() throws {
        let reader = try ShardedPyTorchFile(path: Self.index)
        for tensor in reader.sourceTensors {
            let data = try reader.data(tensor)
            #expect(reader.shards.contains { FixtureChecks.isView(data, of: $0.mapping) }, "\(tensor.name)")
        }
    }

    /// With config.json beside the index it is a Hugging Face Llama: the same canonical model
    /// (names, q/k rows regrouped, config) as the twin.
    @Test func isTheSameModelAsTheTwin() throws {
        let sharded = try CanonicalModel.open(Self.index), single = try CanonicalModel.open(Self.twin)
        #expect(sharded.config != nil && sharded.config == single.config)
        #expect(sharded.tensors.map(\.name).sorted() == single.tensors.map(\.name).sorted())
        #expect(sharded.tensor(named: "blk.1.attn_q.weight") != nil)
        for tensor in single.tensors {
            let other = try #require(sharded.tensor(named: tensor.name))
            let a = try sharded.data(other), b = try single.data(tensor)
            withExtendedLifetime((a.owner, b.owner)) { #expect(Array(a.bytes) == Array(b.bytes), "\(tensor.name)") }
        }
    }

    static let malformed: [(String, String)] = [
        ("missing_shard", "shard 'pytorch_model-00002-of-00002.bin', which does not exist beside the index"),
        ("tensor_not_in_shard", "'ghost.weight' in shard 'pytorch_model-00001-of-00002.bin', but that shard does not hold it"),
        ("duplicate_tensor", "tensor 'embed.weight' is in two shards"),
        ("path_escape", "not a plain file name beside the index"),
    ]

    @Test(arguments: malformed)
    func brokenSetsAreRejected(_ folder: String, _ expected: String) throws {
        let path = Repository.fixture("malformed/sharded-pytorch/\(folder)/pytorch_model.bin.index.json")
        do {
            _ = try FormatRegistry.open(path)
            Issue.record("\(folder) was accepted")
        } catch let error as KilnError {
            #expect(error.description.contains(expected), "\(folder): \(error)")
            #expect(error.file != nil, "the error names a file")
        }
    }

    /// A shard whose weight_map entry is missing (written by hand from the good set): named in the error.
    @Test func aTensorTheIndexDoesNotListIsRejected() throws {
        let directory = TemporaryDirectory()
        for name in Self.shardNames {
            try FileManager.default.copyItem(atPath: Self.directory + "/" + name, toPath: directory.file(name))
        }
        var index = try readJSON(Self.index)
        guard case .object(var top) = index, case .object(var map)? = top["weight_map"] else { Issue.record("index"); return }
        map["model.embed_tokens.weight"] = nil  // shard 1 holds other listed tensors too
        top["weight_map"] = .object(map)
        index = .object(top)
        try writeFile(directory.file("pytorch_model.bin.index.json"), Array(index.serialized().utf8))
        do {
            _ = try ShardedPyTorchFile(path: directory.file("pytorch_model.bin.index.json"))
            Issue.record("a shard tensor missing from the weight_map was accepted")
        } catch let error as KilnError {
            #expect(error.description.contains("holds tensor 'model.embed_tokens.weight', which the index's weight_map does not list"), "\(error)")
        }
    }
}
