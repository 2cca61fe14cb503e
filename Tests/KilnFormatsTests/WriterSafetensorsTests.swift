import Foundation
import KilnCore
@testable import KilnFormats
import TestSupport
import Testing

/// The safetensors writer: files the reference library reads, tensors bit-exact (or converted
/// exactly as `--dtype` asks), the data section and tensors aligned, Kiln's model description
/// carried in `__metadata__`, and the Hugging Face layout inverting the reader's mapping.
struct WriterSafetensorsTests {
    static let fixtures = ["all_dtypes", "bf16", "unaligned", "tiny_gpt2"]

    @Test(arguments: fixtures)
    func rewritesEveryFixtureBitExact(_ fixture: String) throws {
        let source = Repository.fixture("safetensors/\(fixture).safetensors")
        let directory = TemporaryDirectory()
        let output = directory.file("out.safetensors")
        let summary = try Writers.convert(source, to: SafetensorsWriter(), output)

        let original = try SafetensorsFile(path: source)
        let written = try SafetensorsFile(path: output)
        #expect(summary.tensors == original.sourceTensors.count)
        #expect(summary.outputBytes == written.mapping.count)
        for tensor in original.sourceTensors {
            let copy = try #require(written.sourceTensors.first { $0.name == tensor.name }, "\(tensor.name)")
            #expect(copy.type == tensor.type && copy.shape == tensor.shape, "\(tensor.name)")
            #expect(Array(try written.data(copy).bytes) == Array(try original.data(tensor).bytes), "\(tensor.name)")
        }
        #expect(written.metadata["format"] == "pt")
        // Keys of a safetensors source go back where they came from.
        for (key, value) in original.metadata { #expect(written.metadata[key] == value, "\(key)") }
        try expectAligned(output)
        #expect(directory.contents == ["out.safetensors"])
        if Writers.pythonSafetensors {
            let check = try runPythonCheck("check_safetensors.py", [output])
            #expect(check.status == 0, "\(check.output)")
        }
    }

    /// The data section starts at a multiple of 64, every tensor is aligned to its element
    /// size, and every tensor whose size is a multiple of 64 starts at a multiple of 64.
    func expectAligned(_ path: String) throws {
        let file = try SafetensorsFile(path: path)
        let base = file.mapping.bytes.baseAddress!
        let headerLength = Int(file.mapping.bytes.loadUnaligned(as: UInt64.self))
        #expect((8 + headerLength) % 64 == 0)
        for tensor in file.sourceTensors where tensor.byteCount > 0 {
            let offset = try file.data(tensor).bytes.baseAddress! - base
            #expect(offset % tensor.type.blockBytes == 0, "\(tensor.name) at \(offset)")
            if tensor.byteCount % 64 == 0 { #expect(offset % 64 == 0, "\(tensor.name) at \(offset)") }
        }
    }

    @Test func orderKeepsSixtyFourByteTensorsFirstThenWidestElements() throws {
        let model = try CanonicalModel.open(Repository.fixture("safetensors/all_dtypes.safetensors"))
        let plan = try ExportPlan(model: model, writer: SafetensorsWriter())
        let order = SafetensorsWriter.order(plan.tensors)
        let split = order.firstIndex { $0.byteCount % 64 != 0 } ?? order.count
        #expect(order[..<split].allSatisfy { $0.byteCount % 64 == 0 })
        let widths = order[split...].map(\.type.blockBytes)
        #expect(widths == widths.sorted(by: >))
    }

    /// `--dtype f16` / `bf16` round each value to nearest even; `f32` widens exactly.
    @Test(arguments: [ElementType.f16, .bf16, .f32])
    func convertsFloatTypes(_ dtype: ElementType) throws {
        let source = Repository.fixture("safetensors/all_dtypes.safetensors")
        let directory = TemporaryDirectory()
        let output = directory.file("out.safetensors")
        _ = try Writers.convert(source, to: SafetensorsWriter(), output, dtype: dtype)
        let original = try SafetensorsFile(path: source)
        let written = try SafetensorsFile(path: output)
        for tensor in original.sourceTensors {
            let copy = try #require(written.sourceTensors.first { $0.name == tensor.name })
            guard tensor.type.category == .float else {
                #expect(copy.type == tensor.type, "\(tensor.name): integers keep their type")
                continue
            }
            #expect(copy.type == dtype, "\(tensor.name)")
            let values = try tensor.type.dequantize(try original.alignedData(tensor).bytes, elementCount: tensor.elementCount)
            let got = Array(try written.data(copy).bytes)
            let want: [UInt8]
            switch dtype {
            case .f16: want = values.map(HalfPrecision.halfFromFloat).withUnsafeBytes { Array($0) }
            case .bf16: want = values.map(HalfPrecision.bfloatFromFloat).withUnsafeBytes { Array($0) }
            default: want = values.withUnsafeBytes { Array($0) }
            }
            #expect(got == want, "\(tensor.name)")
        }
    }

    /// Quantised GGUF tensors dequantise to exactly what gguf-py computes (checked by the
    /// reference libraries), and without --dtype the error says what to do.
    @Test(arguments: ["all_types", "kquants"])
    func dequantisesGGUF(_ fixture: String) throws {
        let source = Repository.fixture("gguf/\(fixture).gguf")
        let directory = TemporaryDirectory()
        let output = directory.file("out.safetensors")
        do {
            _ = try Writers.convert(source, to: SafetensorsWriter(), output)
            Issue.record("quantised tensors were accepted without --dtype")
        } catch let error as KilnError {
            #expect(error.description.contains("pass --dtype f32, f16 or bf16"), "\(error)")
            #expect(error.location?.hasPrefix("tensor '") == true, "\(error)")
            #expect(error.file == source)
        }
        #expect(directory.contents.isEmpty, "nothing written for an impossible conversion")

        _ = try Writers.convert(source, to: SafetensorsWriter(), output, dtype: .f32)
        let gguf = try GGUFFile(path: source)
        let written = try SafetensorsFile(path: output)
        for tensor in gguf.sourceTensors {
            let copy = try #require(written.sourceTensors.first { $0.name == tensor.name })
            let want = try tensor.type.dequantize(try gguf.data(tensor).bytes, elementCount: tensor.elementCount)
            let expectedType: ElementType = tensor.type.category == .float || tensor.type.isQuantized ? .f32 : tensor.type
            #expect(copy.type == expectedType, "\(tensor.name)")
            if expectedType == .f32 {
                #expect(Array(try written.data(copy).bytes) == want.withUnsafeBytes { Array($0) }, "\(tensor.name)")
            }
        }
        if Writers.pythonSafetensors {
            let check = try runPythonCheck("check_safetensors.py", [output, "--gguf", source])
            #expect(check.status == 0, "\(check.output)")
        }
    }

    /// A canonical-layout safetensors file carries config and tokenizer, so it converts back
    /// (here to GGUF) with its description intact.
    @Test func canonicalLayoutKeepsTheModelDescription() throws {
        let source = Repository.fixture("models/writer-llama/model.safetensors")
        let directory = TemporaryDirectory()
        let output = directory.file("canonical.safetensors")
        _ = try Writers.convert(source, to: SafetensorsWriter(), output)
        let original = try CanonicalModel.open(source)
        let reread = try CanonicalModel.open(output)
        #expect(reread.config == original.config)
        #expect(reread.tokenizer == original.tokenizer)
        #expect(reread.tensors.map(\.name).sorted() == original.tensors.map(\.name).sorted())
        for tensor in original.tensors {
            let copy = try #require(reread.tensor(named: tensor.name))
            let a = try original.data(tensor), b = try reread.data(copy)
            withExtendedLifetime((a.owner, b.owner)) { #expect(Array(a.bytes) == Array(b.bytes), "\(tensor.name)") }
        }
    }

    /// `--layout hf` gives back the Hugging Face folder the model came from: same names,
    /// same bytes (q/k rows and Conv1D weights back in HF order), and a config.json and
    /// tokenizer files Kiln's HF reader loads to the same canonical model.
    @Test func huggingFaceLayoutInvertsTheReader() throws {
        let source = Repository.fixture("models/writer-llama/model.safetensors")
        let directory = TemporaryDirectory()
        let gguf = directory.file("model.gguf")
        _ = try Writers.convert(source, to: GGUFWriter(), gguf)
        try FileManager.default.createDirectory(atPath: directory.file("hf"), withIntermediateDirectories: false)
        let output = directory.file("hf/model.safetensors")
        _ = try Writers.convert(gguf, to: SafetensorsWriter(), output, layout: .hf)
        #expect(Set(TemporaryDirectoryContents(directory.file("hf"))) ==
                ["model.safetensors", "config.json", "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
                 "generation_config.json"])

        let original = try SafetensorsFile(path: source)
        let written = try SafetensorsFile(path: output)
        #expect(Set(written.sourceTensors.map(\.name)) == Set(original.sourceTensors.map(\.name)))
        for tensor in original.sourceTensors {
            let copy = try #require(written.sourceTensors.first { $0.name == tensor.name })
            #expect(copy.shape == tensor.shape, "\(tensor.name)")
            #expect(Array(try written.data(copy).bytes) == Array(try original.data(tensor).bytes), "\(tensor.name)")
        }
        let a = try CanonicalModel.open(source), b = try CanonicalModel.open(output)
        #expect(b.config?.layers == a.config?.layers && b.config?.heads == a.config?.heads && b.config?.kvHeads == a.config?.kvHeads)
        #expect(b.config?.feedForward == a.config?.feedForward && b.config?.context == a.config?.context)
        #expect(b.tokenizer?.tokens == a.tokenizer?.tokens && b.tokenizer?.merges == a.tokenizer?.merges)
        #expect(b.tokenizer?.eosID == a.tokenizer?.eosID && b.tokenizer?.bosID == a.tokenizer?.bosID)
        #expect(b.tokenizer?.pre == a.tokenizer?.pre && b.tokenizer?.kinds == a.tokenizer?.kinds)

        if Writers.pythonTransformers {
            let check = try runPythonCheck("check_transformers.py", [directory.file("hf"), "--reference", Repository.fixture("models/writer-llama")])
            #expect(check.status == 0, "transformers loads the folder with the same logits: \(check.output)")
        }
        // Side files are not replaced silently.
        #expect(throws: KilnError.self) {
            _ = try Writers.convert(gguf, to: SafetensorsWriter(), directory.file("hf/again.safetensors"), layout: .hf)
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("hf/again.safetensors")))
    }

    /// GPT-2: Conv1D weights transposed on the way in are transposed back on the way out.
    @Test func huggingFaceLayoutRestoresGPT2Conv1D() throws {
        let directory = TemporaryDirectory()
        let folder = directory.file("in")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: Repository.fixture("safetensors/tiny_gpt2.safetensors"), toPath: folder + "/model.safetensors")
        let wte = try #require(try SafetensorsFile(path: folder + "/model.safetensors").sourceTensors.first { $0.name == "wte.weight" })
        let wpe = try #require(try SafetensorsFile(path: folder + "/model.safetensors").sourceTensors.first { $0.name == "wpe.weight" })
        let config = #"{"model_type": "gpt2", "n_embd": \#(wte.shape[1]), "n_head": 4, "n_layer": 2, "n_positions": \#(wpe.shape[0]), "vocab_size": \#(wte.shape[0])}"#
        try writeFile(folder + "/config.json", Array(config.utf8))

        let kiln = directory.file("model.kiln")
        _ = try Writers.convert(folder + "/model.safetensors", to: KilnFormatWriter(), kiln)
        #expect(try KilnFile(path: kiln).tensor(named: "blk.0.attn_qkv.weight") != nil, "canonical in the middle")
        try FileManager.default.createDirectory(atPath: directory.file("out"), withIntermediateDirectories: false)
        let output = directory.file("out/model.safetensors")
        _ = try Writers.convert(kiln, to: SafetensorsWriter(), output, layout: .hf)
        let original = try SafetensorsFile(path: folder + "/model.safetensors")
        let written = try SafetensorsFile(path: output)
        #expect(Set(written.sourceTensors.map(\.name)) == Set(original.sourceTensors.map(\.name)))
        for tensor in original.sourceTensors {
            let copy = try #require(written.sourceTensors.first { $0.name == tensor.name })
            #expect(copy.shape == tensor.shape, "\(tensor.name)")
            #expect(Array(try written.data(copy).bytes) == Array(try original.data(tensor).bytes), "\(tensor.name)")
        }
        let json = try readJSON(directory.file("out/config.json"))
        #expect(json["model_type"] == .string("gpt2") && json["n_layer"]?.intValue == 2)
    }
}

func TemporaryDirectoryContents(_ path: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
}
