import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// A sharded safetensors set (index + two shards) made by the reference library.
struct ShardedSafetensorsTests {
    static let directory = Repository.fixture("safetensors/sharded")
    static let index = directory + "/model.safetensors.index.json"
    static let expected = directory + "/sharded.expected.json"

    @Test func opensTheWholeSetFromTheIndex() throws {
        let reader = try FormatRegistry.open(Self.index)
        #expect(reader is ShardedSafetensorsFile)
        try FixtureChecks.matchesExpected(reader, Self.expected)
        #expect(reader.metadata == (try FixtureChecks.expectedMetadata(Self.expected)))
        #expect(reader.paths.count == 3)
    }

    /// Given any shard, the registry finds the index beside it and opens every shard.
    @Test func opensTheWholeSetFromAnyShard() throws {
        for shard in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            let path = Self.directory + "/" + shard
            #expect(try FormatRegistry.detect(path).name == "safetensors-sharded")
            let reader = try FormatRegistry.open(path)
            #expect(reader.sourceTensors.count == 6)
            try FixtureChecks.matchesExpected(reader, Self.expected)
        }
    }

    @Test func tensorsAreViewsIntoTheShards() throws {
        let reader = try ShardedSafetensorsFile(path: Self.index)
        for tensor in reader.sourceTensors {
            let data = try reader.data(tensor)
            #expect(reader.shards.contains { FixtureChecks.isView(data, of: $0.mapping) }, "\(tensor.name)")
        }
    }

    @Test func convertsBitExact() throws {
        try FixtureChecks.convertsIdentically(try FormatRegistry.open(Self.index), Self.expected)
    }

    static let malformed: [(String, String)] = [
        ("missing_shard", "does not exist beside the index"),
        ("tensor_not_in_shard", "'ghost.weight' in shard 'model-00001-of-00002.safetensors', but that shard does not hold it"),
        ("unlisted_tensor", "holds tensor 'norm.weight', which the index's weight_map does not list"),
        ("duplicate_tensor", "tensor 'embed.weight' is in two shards"),
        ("wrong_shard", "puts tensor 'layers.1.w' in 'model-00001-of-00002.safetensors' but it is in 'model-00002-of-00002.safetensors'"),
        ("path_escape", "not a plain file name beside the index"),
    ]

    @Test(arguments: malformed)
    func brokenSetsAreRejected(_ folder: String, _ expected: String) throws {
        let path = Repository.fixture("malformed/sharded/\(folder)/model.safetensors.index.json")
        do {
            _ = try ShardedSafetensorsFile(path: path)
            Issue.record("\(folder) was accepted")
        } catch let error as KilnError {
            #expect(error.description.contains(expected), "\(folder): \(error)")
            #expect(error.file != nil, "the error names a file")
        }
    }
}
