import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// Kiln's canonical view of a Hugging Face Llama checkpoint against the GGUF that llama.cpp's own
/// converter wrote from it (Fixtures/diff/llama.gguf): every tensor matches by name and bit for
/// bit, which checks Kiln's names and its q/k row regrouping against llama.cpp's. Also: the
/// chunked transforms `kiln diff` reads with agree with the whole-tensor ones conversion uses.
struct DiffGGUFMappingTests {
    static let hf = Repository.fixture("diff/llama_hf/model.safetensors")
    static let gguf = Repository.fixture("diff/llama.gguf")

    @Test func everyTensorOfLlamaCppsGGUFMatchesByNameAndBits() throws {
        let hfModel = try CanonicalModel.open(Self.hf), ggufModel = try CanonicalModel.open(Self.gguf)
        #expect(hfModel.tensors.count == 21)
        #expect(Set(hfModel.tensors.map(\.name)) == Set(ggufModel.tensors.map(\.name)))

        let report = try ModelDiff.compare(hfModel, ggufModel, options: .init(chunkElements: 40))
        #expect(report.onlyInA.isEmpty, "only in the safetensors: \(report.onlyInA.map(\.name))")
        #expect(report.onlyInB.isEmpty, "only in the GGUF: \(report.onlyInB.map(\.name))")
        #expect(report.tensors.count == 21)
        for tensor in report.tensors {
            #expect(tensor.status == .identical && tensor.a.type == .f32 && tensor.b.type == .f32, "\(tensor.name): \(tensor.status)")
            #expect(tensor.comparison?.maxAbs == 0, "\(tensor.name)")
        }
        // Same through the whole-tensor transforms `kiln convert` applies.
        for tensor in hfModel.tensors {
            let mine = try hfModel.data(tensor), theirs = try ggufModel.data(try #require(ggufModel.tensor(named: tensor.name)))
            withExtendedLifetime((mine.owner, theirs.owner)) {
                #expect(mine.bytes.elementsEqual(theirs.bytes), "\(tensor.name)")
            }
        }
        // The hyper-parameters agree too (GGUF's f32 epsilon compared at f32 precision).
        #expect(!report.metadata.contains { $0.key.hasPrefix("config.") }, "\(report.metadata.map(\.key))")
        #expect(!report.metadata.contains { $0.key == "tokenizer.tokens" || $0.key == "tokenizer.chat_template" })
    }

    /// Without the regrouping the q and k rows would not match: the test above is not vacuous.
    @Test func qAndKRowsReallyNeedRegrouping() throws {
        let hfFile = try SafetensorsFile(path: Self.hf), ggufFile = try GGUFFile(path: Self.gguf)
        for (hfName, ggufName) in [("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight"),
                                   ("model.layers.1.self_attn.k_proj.weight", "blk.1.attn_k.weight")] {
            let raw = try hfFile.data(try #require(hfFile.sourceTensors.first { $0.name == hfName }))
            let converted = try ggufFile.data(try #require(ggufFile.sourceTensors.first { $0.name == ggufName }))
            #expect(!raw.bytes.elementsEqual(converted.bytes), "\(hfName) is stored in another row order than \(ggufName)")
        }
    }

    /// A GGUF against a `.kiln` converted from the safetensors: identical, compared through
    /// different routes (mapping, then `.kiln` as stored).
    @Test func ggufAgainstKilnConvertedFromSafetensors() throws {
        let directory = TemporaryDirectory()
        let output = directory.file("llama.kiln")
        _ = try Conversion.toKiln(try FormatRegistry.open(Self.hf), output: output)
        let report = try ModelDiff.compare(Self.gguf, output)
        #expect(report.tensors.count == 21 && report.identicalCount == 21 && report.onlyInA.isEmpty && report.onlyInB.isEmpty)
        #expect(report.checksumShortcuts == 0, "only one side is .kiln")

        // Both converted: checksums settle the tensors; how each file was made differs, and is
        // shown only when asked for.
        let fromGGUF = directory.file("from-gguf.kiln")
        _ = try Conversion.toKiln(try FormatRegistry.open(Self.gguf), output: fromGGUF)
        // The tokenizer as llama.cpp rewrote it differs for real; leave it out here.
        let defaults = ModelDiff.Options.defaultIgnoredMetadata + ["tokenizer.*", "general.name"]
        let kilnPair = try ModelDiff.compare(output, fromGGUF, options: .init(ignoredMetadata: defaults))
        #expect(kilnPair.checksumShortcuts == 21 && kilnPair.bytesCompared == 0 && kilnPair.identicalCount == 21)
        #expect(kilnPair.metadata.isEmpty, "\(kilnPair.metadata.map(\.key))")
        #expect(kilnPair.notes.contains { $0.contains("ignored") })
        #expect(kilnPair.notes.contains { $0.contains("source metadata not compared") })
        let withProvenance = try ModelDiff.compare(output, fromGGUF, options: .init(ignoredMetadata: ["tokenizer.*", "general.name"]))
        #expect(Set(withProvenance.metadata.map(\.key)) == ["provenance.sources", "source.format"])
    }

    /// GPT-2's transposed Conv1D weights, gathered a chunk at a time by the diff, equal the
    /// whole-matrix transpose `kiln convert` wrote; chunks that cut across rows included.
    @Test(arguments: [7, 100, 1 << 16])
    func chunkedTransposeMatchesConversion(_ chunk: Int) throws {
        let source = Repository.fixture("safetensors/tiny_gpt2.safetensors")
        let directory = TemporaryDirectory()
        // tiny_gpt2 has no config.json beside it, so it is read through a copy that has one.
        let folder = directory.file("hf")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source, toPath: folder + "/model.safetensors")
        try #"{"model_type": "gpt2", "n_embd": 32, "n_head": 4, "n_layer": 2, "vocab_size": 64, "n_positions": 16}"#
            .write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        let hf = try CanonicalModel.open(folder + "/model.safetensors")
        #expect(hf.tensors.contains { $0.transform == .transpose })
        let converted = directory.file("gpt2-mapped.kiln")
        _ = try Conversion.toKiln(hf, output: converted)

        let report = try ModelDiff.compare(hf, try CanonicalModel.open(converted), options: .init(chunkElements: chunk))
        #expect(report.onlyInA.isEmpty && report.onlyInB.isEmpty)
        #expect(report.tensors.count == hf.tensors.count)
        #expect(report.tensors.allSatisfy { $0.status == .identical }, "\(report.tensors.filter { $0.status != .identical }.map(\.name))")
    }
}
