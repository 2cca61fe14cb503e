import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// llama2.c checkpoints written by a transcription of export.py; expected tensors taken from
/// the model that was exported, named as run.c names them.
struct Llama2cTests {
    static let fixtures = ["v0_shared.bin", "v0_unshared.bin", "v1.bin", "v2_q80.bin"]

    @Test(arguments: fixtures)
    func everyTensorMatchesTheExport(_ fixture: String) throws {
        let path = Repository.fixture("llama2c/\(fixture)")
        #expect(try FormatRegistry.detect(path).name == "llama2c")
        let reader = try FormatRegistry.open(path)
        let expected = Repository.fixture("llama2c/\(fixture).expected.json")
        try FixtureChecks.matchesExpected(reader, expected)
        #expect(reader.metadata == (try FixtureChecks.expectedMetadata(expected)))
    }

    @Test(arguments: fixtures)
    func convertsBitExact(_ fixture: String) throws {
        try FixtureChecks.convertsIdentically(try FormatRegistry.open(Repository.fixture("llama2c/\(fixture)")),
                                              Repository.fixture("llama2c/\(fixture).expected.json"))
    }

    @Test func layoutNamesAndShapes() throws {
        let reader = try FormatRegistry.open(Repository.fixture("llama2c/v0_unshared.bin"))
        let shapes = Dictionary(uniqueKeysWithValues: reader.sourceTensors.map { ($0.name, $0.shape) })
        #expect(shapes["token_embedding_table"] == [48, 32])
        #expect(shapes["layers.1.wk"] == [16, 32], "n_kv_heads × head_size rows")
        #expect(shapes["layers.0.w2"] == [32, 64])
        #expect(shapes["wcls"] == [48, 32])
        #expect(reader.sourceTensors.last?.name == "wcls", "an unshared classifier comes after the RoPE tables")
        let q80 = try FormatRegistry.open(Repository.fixture("llama2c/v2_q80.bin"))
        #expect(q80.metadata["llama2c.group_size"] == .int(32), "64 backs off to divide dim 32")
        #expect(q80.sourceTensors.first { $0.name == "layers.0.w1.s" }?.shape == [64])
    }

    /// A legacy file has no magic: it is recognised by its `.bin` name and its size matching
    /// its header; a PyTorch `pytorch_model.bin` (a zip) is never taken for one.
    @Test func legacyRecognitionIsByNameAndSize() throws {
        let directory = TemporaryDirectory()
        let bytes = try readFile(Repository.fixture("llama2c/v0_shared.bin"))
        let other = directory.file("model.weights")
        try writeFile(other, bytes)
        #expect(throws: KilnError.self) { try FormatRegistry.detect(other) }
        let cut = directory.file("cut.bin")
        try writeFile(cut, Array(bytes.dropLast(4)))
        // Not recognised by size, so only the extension sends it to llama2.c, which says why it fails.
        let recognised = Array(bytes.prefix(64)).withUnsafeBytes {
            (Llama2cFormatPlugin().recognises(path: cut, prefix: $0, fileSize: bytes.count - 4),
             Llama2cFormatPlugin().recognises(path: cut, prefix: $0, fileSize: bytes.count))
        }
        #expect(recognised == (false, true))
        FixtureChecks.rejects(cut, "would end at byte 80796 but the file has 80792 bytes") { try FormatRegistry.open($0) }
        #expect(try FormatRegistry.detect(Repository.fixture("pytorch/gpt2_tiny/pytorch_model.bin")).name == "pytorch")
        FixtureChecks.rejects(Repository.fixture("pytorch/gpt2_tiny/pytorch_model.bin"), "zip archive") {
            try FormatRegistry.open($0, format: "llama2c")
        }
    }

    static let malformed: [(String, String)] = [
        ("truncated_v0.bin", "tensor 'freq_cis_imag' [4, 2] would end at byte 3004 but the file has 3000 bytes"),
        ("absurd_layers_v0.bin", "truncated: tensor"),
        ("negative_dim_v0.bin", "dim is -8, expected a positive number"),
        ("group_size_zero_v2.bin", "group_size is 0"),
        ("group_size_three_v2.bin", "not a multiple of group_size 3"),
        ("version_7.bin", "llama2.c version 7 is not supported"),
        ("bad_flag_v1.bin", "shared_classifier flag is 2"),
        ("extra_bytes_v1.bin", "(4 bytes too many)"),
    ]

    @Test(arguments: malformed)
    func malformedFilesAreRejected(_ name: String, _ expected: String) {
        FixtureChecks.rejects(Repository.fixture("malformed/llama2c/\(name)"), expected) { try FormatRegistry.open($0, format: "llama2c") }
    }

    /// Headers with changed bytes: any field may become absurd.
    @Test(arguments: ["v0_unshared.bin", "v2_q80.bin"])
    func mutatedHeadersNeverCrash(_ fixture: String) throws {
        try FixtureChecks.survivesMutation(Repository.fixture("llama2c/\(fixture)"), name: fixture, region: 48,
                                           iterations: 1000, seed: 3) { try FormatRegistry.open($0, format: "llama2c") }
    }

    @Test(arguments: fixtures)
    func everyTruncationIsRejected(_ fixture: String) throws {
        try FixtureChecks.survivesTruncation(Repository.fixture("llama2c/\(fixture)"), name: fixture, step: 97) {
            try FormatRegistry.open($0, format: "llama2c")
        }
    }
}
