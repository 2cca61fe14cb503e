import Foundation
import KilnCore
@testable import KilnFormats
import TestSupport
import Testing

/// The GGUF writer: GGUF → .kiln → GGUF keeps every tensor's bytes and every key with its
/// GGUF type (checked by gguf-py), a Hugging Face Llama folder becomes a GGUF whose tensors
/// equal llama.cpp's own conversion, and the layout follows ggml's rules.
struct WriterGGUFTests {
    static let fixtures = ["all_types", "kquants", "aligned64", "v2"]

    @Test(arguments: fixtures)
    func roundTripsThroughKiln(_ fixture: String) throws {
        let source = Repository.fixture("gguf/\(fixture).gguf")
        let directory = TemporaryDirectory()
        let kiln = directory.file("model.kiln"), output = directory.file("model.gguf")
        _ = try Writers.convert(source, to: KilnFormatWriter(), kiln)
        let summary = try Writers.convert(kiln, to: GGUFWriter(), output)

        let original = try GGUFFile(path: source)
        let written = try GGUFFile(path: output)
        #expect(summary.tensors == original.sourceTensors.count)
        #expect(written.version == 3 && written.alignment == 32)
        #expect(written.sourceTensors == original.sourceTensors, "names, order, types and shapes")
        for tensor in original.sourceTensors {
            #expect(Array(try written.data(tensor).bytes) == Array(try original.data(tensor).bytes), "\(tensor.name)")
        }
        // Every key comes back (the alignment is Kiln's 32, so that key is not written).
        for (key, value) in original.metadata where key != "general.alignment" {
            #expect(written.metadata[key] == value, "\(key)")
        }
        try expectGGMLLayout(written)
        if Writers.pythonGGUF {
            let check = try runPythonCheck("check_gguf.py", [output, "--reference", source, "--allow-extra", "general.file_type", "general.quantization_version"])
            #expect(check.status == 0, "\(check.output)")
        }
    }

    /// ggml requires each tensor at exactly the aligned end of the one before, in info order.
    func expectGGMLLayout(_ file: GGUFFile) throws {
        var expected = file.dataOffset
        let base = file.mapping.bytes.baseAddress!
        for tensor in file.sourceTensors {
            let offset = try file.data(tensor).bytes.baseAddress! - base
            #expect(offset == expected, "\(tensor.name)")
            expected = try Checked.alignUp(offset + tensor.byteCount, to: 32)
        }
        #expect(file.mapping.count == expected, "the last tensor is padded too")
    }

    /// An HF-layout Llama (config.json, vocab.json + merges.txt) becomes a GGUF with the same
    /// values as llama.cpp's converter would give (gguf-py checks names, q/k permutation,
    /// values and key types), in f32 and with --dtype f16.
    @Test(arguments: [nil, ElementType.f16, .bf16])
    func huggingFaceLlamaToGGUF(_ dtype: ElementType?) throws {
        let folder = Repository.fixture("models/writer-llama")
        let directory = TemporaryDirectory()
        let output = directory.file("llama.gguf")
        _ = try Writers.convert(folder + "/model.safetensors", to: GGUFWriter(), output, dtype: dtype)
        let file = try GGUFFile(path: output)
        #expect(file.metadata["general.architecture"] == "llama")
        #expect(file.metadata["llama.block_count"] == .uint(2))
        #expect(file.metadata["llama.attention.head_count_kv"] == .uint(2))
        #expect(file.metadata["tokenizer.ggml.model"] == "gpt2")
        #expect(file.metadata["tokenizer.ggml.tokens"]?.arrayValue?.count == 98)
        #expect(file.metadata["tokenizer.ggml.eos_token_id"] == .uint(97))
        #expect(file.metadata["tokenizer.chat_template"] == "{{ messages }}")
        #expect(file.metadata["general.quantization_version"] == nil, "not quantised")
        let fileType: UInt64 = dtype == .f16 ? 1 : dtype == .bf16 ? 32 : 0
        #expect(file.metadata["general.file_type"] == .uint(fileType))
        for tensor in file.sourceTensors {
            // Norms stay f32 as llama.cpp keeps them; matrices take the requested type.
            #expect(tensor.type == (tensor.shape.count == 1 ? .f32 : dtype ?? .f32), "\(tensor.name)")
        }
        try expectGGMLLayout(file)
        if Writers.pythonGGUF, dtype != .bf16 {
            let check = try runPythonCheck("check_gguf.py", [output, "--hf", folder])
            #expect(check.status == 0, "\(check.output)")
        }
        // And back: the GGUF reads as the same canonical model.
        let a = try CanonicalModel.open(folder + "/model.safetensors"), b = try CanonicalModel.open(output)
        #expect(b.config?.layers == a.config?.layers && b.config?.kvHeads == a.config?.kvHeads && b.config?.tiedEmbeddings == false)
        #expect(b.tokenizer?.tokens == a.tokenizer?.tokens && b.tokenizer?.merges == a.tokenizer?.merges)
    }

    /// Keys are written with the GGUF types llama.cpp checks, whatever width Kiln kept.
    @Test func metadataTypes() throws {
        #expect(GGUFType.infer(.uint(7)) == .uint32)
        #expect(GGUFType.infer(.uint(1 << 40)) == .scalar(.uint64))
        #expect(GGUFType.infer(.int(-3)) == .int32)
        #expect(GGUFType.infer(.float(0.5)) == .float32)
        #expect(GGUFType.infer(.float(0.1)) == .scalar(.float64), "0.1 is not an f32: kept as f64")
        #expect(GGUFType.infer(.array([.uint(1), .uint(1 << 40)])) == .array(.scalar(.uint64)))
        #expect(GGUFType.infer(.map([:])) == nil)
        let nan = GGUFMetadata.widen(0xFFA0_0001)
        #expect(GGUFValueEncoder.narrow(nan) == 0xFFA0_0001, "NaN payloads survive")

        var out = ByteWriter()
        #expect(throws: KilnError.self) { try GGUFValueEncoder.entry("k", .uint32, .int(-1), into: &out) }
        do {
            try GGUFValueEncoder.entry("llama.block_count", .uint32, .uint(1 << 33), into: &out)
            Issue.record("an out-of-range value was written")
        } catch let error as KilnError {
            #expect(error.description.contains("metadata key 'llama.block_count'"), "\(error)")
        }
    }

    /// Types GGUF has no id for are refused up front, naming the tensor; a name ggml would
    /// truncate is refused too.
    @Test func refusesWhatGGUFCannotHold() throws {
        let directory = TemporaryDirectory()
        let source = Repository.fixture("safetensors/all_dtypes.safetensors")
        do {
            _ = try Writers.convert(source, to: GGUFWriter(), directory.file("x.gguf"))
            Issue.record("unsigned tensors were accepted")
        } catch let error as KilnError {
            #expect(error.description.contains("which GGUF cannot hold"), "\(error)")
            #expect(error.location?.hasPrefix("tensor '") == true)
        }
        #expect(directory.contents.isEmpty)
    }
}
