import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// llm.c GPT-2 checkpoints written by a transcription of train_gpt2.py's write_model.
struct LLMCTests {
    static let fixtures = ["gpt2_tiny_v3.bin", "gpt2_tiny_v5_bf16.bin"]

    @Test(arguments: fixtures)
    func everyTensorMatchesTheExport(_ fixture: String) throws {
        let path = Repository.fixture("llmc/\(fixture)")
        #expect(try FormatRegistry.detect(path).name == "llmc")
        let reader = try FormatRegistry.open(path)
        let expected = Repository.fixture("llmc/\(fixture).expected.json")
        try FixtureChecks.matchesExpected(reader, expected)
        #expect(reader.metadata == (try FixtureChecks.expectedMetadata(expected)))
        let shapes = Dictionary(uniqueKeysWithValues: reader.sourceTensors.map { ($0.name, $0.shape) })
        #expect(shapes["wte"] == [128, 16], "vocab 50 padded to 128")
        #expect(shapes["layers.1.qkvw"] == [48, 16] && shapes["layers.0.fcprojw"] == [16, 64])
    }

    @Test(arguments: fixtures)
    func convertsBitExact(_ fixture: String) throws {
        try FixtureChecks.convertsIdentically(try FormatRegistry.open(Repository.fixture("llmc/\(fixture)")),
                                              Repository.fixture("llmc/\(fixture).expected.json"))
    }

    static let malformed: [(String, String)] = [
        ("truncated.bin", "truncated: tensor 'lnfb'"),
        ("version_4.bin", "llm.c checkpoint version 4 is not supported"),
        ("padded_smaller.bin", "padded_vocab_size 5 is smaller than vocab_size 10"),
        ("absurd_layers.bin", "truncated: tensor"),
        ("state_file.bin", "an llm.c debug state file"),
        ("header_only_part.bin", "the header is 1024 bytes but the file has 100"),
    ]

    @Test(arguments: malformed)
    func malformedFilesAreRejected(_ name: String, _ expected: String) {
        FixtureChecks.rejects(Repository.fixture("malformed/llmc/\(name)"), expected) { try FormatRegistry.open($0) }
    }

    @Test func mutatedHeadersNeverCrash() throws {
        try FixtureChecks.survivesMutation(Repository.fixture("llmc/gpt2_tiny_v5_bf16.bin"), name: "m.bin", region: 32,
                                           iterations: 1000, seed: 5) { try FormatRegistry.open($0, format: "llmc") }
    }

    @Test func everyTruncationIsRejected() throws {
        try FixtureChecks.survivesTruncation(Repository.fixture("llmc/gpt2_tiny_v3.bin"), name: "cut.bin", step: 101) {
            try FormatRegistry.open($0, format: "llmc")
        }
    }
}
