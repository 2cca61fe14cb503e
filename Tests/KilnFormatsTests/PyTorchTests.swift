import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// torch.save checkpoints written by torch itself; expected values from
/// `torch.load(weights_only=True)` (Tools/make_format_fixtures.py → Fixtures/pytorch).
struct PyTorchTests {
    static let fixtures = [
        "state_dict.pt", "protocol4.pt", "legacy.pt", "ckpt.pt", "gpt2_tiny/pytorch_model.bin", "buffer_saved.pt", "big_endian.pt",
    ]

    static func open(_ fixture: String) throws -> any CheckpointReader {
        try FormatRegistry.open(Repository.fixture("pytorch/\(fixture)"))
    }

    @Test(arguments: fixtures)
    func everyTensorMatchesTorch(_ fixture: String) throws {
        let reader = try Self.open(fixture)
        #expect(reader.formatName == "pytorch")
        let expected = Repository.fixture("pytorch/\(fixture).expected.json")
        try FixtureChecks.matchesExpected(reader, expected)
        #expect(reader.metadata == (try FixtureChecks.expectedMetadata(expected)))
    }

    @Test(arguments: fixtures)
    func convertsBitExact(_ fixture: String) throws {
        try FixtureChecks.convertsIdentically(try Self.open(fixture), Repository.fixture("pytorch/\(fixture).expected.json"))
    }

    /// Contiguous windows of little-endian storages are views into the mapping (tensors sharing
    /// a storage included); strided ones are gathered into memory of their own.
    @Test(arguments: ["state_dict.pt", "legacy.pt"])
    func contiguousTensorsAreZeroCopy(_ fixture: String) throws {
        let reader = try #require(try Self.open(fixture) as? PyTorchCheckpoint)
        let expected = try #require(try readJSON(Repository.fixture("pytorch/\(fixture).expected.json"))["tensors"]?.objectValue)
        var views = 0, copies = 0
        for tensor in reader.sourceTensors where tensor.byteCount > 0 {
            let contiguous = try #require(expected[tensor.name]?["contiguous"]?.boolValue as Bool?)
            let view = FixtureChecks.isView(try reader.data(tensor), of: reader.mapping)
            #expect(view == contiguous, "\(tensor.name): contiguous \(contiguous), view \(view)")
            if view { views += 1 } else { copies += 1 }
        }
        #expect(views >= 10 && copies >= 5, "views \(views), copies \(copies)")
        let names = reader.sourceTensors.map(\.name)
        #expect(names.contains("f32_row_view") && names.contains("f32_transposed") && names.contains("f32_broadcast"))
    }

    @Test func nanoGPTCheckpointGivesTheModel() throws {
        let reader = try Self.open("ckpt.pt")
        let names = reader.sourceTensors.map(\.name)
        #expect(names.contains("transformer.wte.weight") && names.contains("lm_head.weight"))
        #expect(!names.contains { $0.hasPrefix("_orig_mod.") }, "torch.compile's prefix is removed")
        #expect(!names.contains { $0.hasPrefix("optimizer") }, "optimizer state is not model weights")
        #expect(reader.metadata["iter_num"] == .int(5))
        #expect(reader.metadata["model_args"]?.mapValue?["n_layer"] == .int(2))
        #expect(reader.metadata["model_args"]?.mapValue?["bias"] == .bool(false))
        #expect(reader.metadata["config"]?.mapValue?["betas"] == .array([.float(0.9), .float(0.95)]))
        // Tied weights: two names, one storage, both views of the same bytes.
        let wte = try reader.data(reader.sourceTensors.first { $0.name == "transformer.wte.weight" }!)
        let head = try reader.data(reader.sourceTensors.first { $0.name == "lm_head.weight" }!)
        #expect(wte.bytes.baseAddress == head.bytes.baseAddress)
    }

    @Test func formatIsRecognisedByBytesWhateverTheName() throws {
        #expect(try FormatRegistry.detect(Repository.fixture("pytorch/gpt2_tiny/pytorch_model.bin")).name == "pytorch")
        #expect(try FormatRegistry.detect(Repository.fixture("pytorch/legacy.pt")).name == "pytorch")
        let directory = TemporaryDirectory()
        let renamed = directory.file("weights.data")
        try writeFile(renamed, try readFile(Repository.fixture("pytorch/state_dict.pt")))
        #expect(try FormatRegistry.detect(renamed).name == "pytorch")
    }

    static let malformed: [(String, String)] = [
        ("storage_too_small.pt", "record holds 16 bytes but the pickle declares 6 × f32 = 24"),
        ("tensor_outside_storage.pt", "reaches element 11 of storage '0', which has 6"),
        ("missing_storage.pt", "the archive has no record 'archive/data/0'"),
        ("unknown_opcode.pt", "unknown pickle opcode 0xff"),
        ("memo_missing.pt", "memo entry 5 is read but was never stored"),
        ("stack_underflow.pt", "stack underflow"),
        ("string_past_end.pt", "BINUNICODE claims 2147483647 bytes"),
        ("deep_nesting.pt", "nest deeper than 64 levels"),
        ("setitem_on_list.pt", "SETITEM on a list"),
        ("no_data_pkl.pt", "without '<folder>/data.pkl'"),
        ("truncated.pt", "no ZIP end-of-central-directory record"),
        ("encrypted_member.pt", "encrypted"),
        ("central_directory_outside.pt", "lies outside the"),
        ("legacy_truncated.pt", "truncated"),
        ("legacy_bad_count.pt", "storage holds 7 elements but the pickle declares 6"),
        ("shared_diamond.pt", "the object graph is too large to walk"),
        // Found by Tools/mutate_readers.py (SIGSEGV): refused before it is inflated.
        ("huge_byteorder.pt", "byteorder record holds 4194310 bytes, expected 'little' or 'big'"),
    ]

    /// torch.save stores every member, but any zip tool may deflate them: every tensor then reads
    /// as from the stored original (both made by Tools/hostile/make_deflated_pytorch.py; the
    /// original's values are checked against torch above). The deflated byteorder record used to
    /// be decoded after its buffer was freed, so this file was refused with garbage in the message.
    @Test func deflatedMembersReadLikeStoredOnes() throws {
        let stored = try FormatRegistry.open(Repository.fixture("pytorch/buffer_saved.pt"), format: "pytorch")
        let deflated = try FormatRegistry.open(Repository.fixture("pytorch/deflated_members.pt"), format: "pytorch")
        #expect(deflated.sourceTensors.map(\.name) == stored.sourceTensors.map(\.name))
        #expect(!stored.sourceTensors.isEmpty)
        for (original, recompressed) in zip(stored.sourceTensors, deflated.sourceTensors) {
            let a = try stored.data(original), b = try deflated.data(recompressed)
            withExtendedLifetime((a.owner, b.owner)) {
                #expect(Array(a.bytes) == Array(b.bytes), "\(original.name)")
            }
        }
    }

    @Test(arguments: malformed)
    func malformedCheckpointsAreRejected(_ name: String, _ expected: String) {
        FixtureChecks.rejects(Repository.fixture("malformed/pytorch/\(name)"), expected) { try FormatRegistry.open($0, format: "pytorch") }
    }

    /// The legacy format has no checksums, so changed bytes reach the pickle machine itself.
    @Test func mutatedPicklesNeverCrash() throws {
        try FixtureChecks.survivesMutation(Repository.fixture("pytorch/legacy.pt"), name: "m.pt", region: 2300,
                                           iterations: 2000, seed: 7) { try FormatRegistry.open($0, format: "pytorch") }
        // In a zip, the central directory and local headers are what is not checksummed.
        try FixtureChecks.survivesMutation(Repository.fixture("pytorch/buffer_saved.pt"), name: "z.pt", region: Int.max,
                                           iterations: 1000, seed: 8) { try FormatRegistry.open($0, format: "pytorch") }
    }

    @Test(arguments: ["state_dict.pt", "legacy.pt"])
    func everyTruncationIsRejected(_ fixture: String) throws {
        try FixtureChecks.survivesTruncation(Repository.fixture("pytorch/\(fixture)"), name: fixture, step: 13) {
            try FormatRegistry.open($0, format: "pytorch")
        }
    }
}
