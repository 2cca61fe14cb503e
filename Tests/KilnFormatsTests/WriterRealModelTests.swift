import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// The real model through `kiln convert`: GGUF → .kiln → GGUF gives back every tensor byte for
/// byte and every key with its type (gguf-py compares them with the original); GGUF →
/// safetensors --dtype f32 gives exactly gguf-py's dequantisation.
struct WriterRealModelTests {
    let kiln = Repository.executable("kiln")

    static func requireModel() -> String? {
        if RealModel.isPresent { return RealModel.path }
        Issue.record(Comment(rawValue: RealModel.missingMessage))
        return nil
    }

    @Test(.enabled(if: !RealModel.skip, "KILN_SKIP_REAL_MODEL=1"))
    func smolLM2RoundTripsThroughKilnToGGUF() throws {
        guard let path = Self.requireModel() else { return }
        let directory = TemporaryDirectory()
        let kilnFile = directory.file("smollm2.kiln"), output = directory.file("smollm2.gguf")
        let first = try run(kiln, ["convert", path, "-o", kilnFile])
        try #require(first.status == 0, "\(first.stderr)")
        let second = try run(kiln, ["convert", kilnFile, "-o", output])
        try #require(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("wrote \(output): 272 tensors"), "\(second.stderr)")
        #expect(second.stderr.contains("(gguf)"))

        let original = try GGUFFile(path: path)
        let written = try GGUFFile(path: output)
        #expect(written.sourceTensors == original.sourceTensors)
        for tensor in original.sourceTensors {
            let a = try original.data(tensor).bytes, b = try written.data(tensor).bytes
            #expect(a.count == b.count && memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0, "\(tensor.name): bytes differ")
        }
        #expect(Set(written.metadata.keys) == Set(original.metadata.keys))
        for (key, value) in original.metadata { #expect(written.metadata[key] == value, "\(key)") }
        if Writers.pythonGGUF {
            let check = try runPythonCheck("check_gguf.py", [output, "--reference", path])
            #expect(check.status == 0, "\(check.output)")
        }
    }

    @Test(.enabled(if: !RealModel.skip, "KILN_SKIP_REAL_MODEL=1"))
    func smolLM2DequantisesToSafetensors() throws {
        guard let path = Self.requireModel() else { return }
        let directory = TemporaryDirectory()
        let output = directory.file("smollm2.safetensors")
        let refused = try run(kiln, ["convert", path, "-o", output])
        #expect(refused.status == 2, "quantised → safetensors needs --dtype")
        #expect(refused.stderr.contains("tensor 'token_embd.weight'") && refused.stderr.contains("--dtype"), "\(refused.stderr)")
        #expect(directory.contents.isEmpty)

        let result = try run(kiln, ["convert", path, "-o", output, "--dtype", "f32"])
        try #require(result.status == 0, "\(result.stderr)")
        let file = try SafetensorsFile(path: output)
        #expect(file.sourceTensors.count == 272)
        #expect(file.sourceTensors.allSatisfy { $0.type == .f32 })
        let expected = try readJSON(Repository.fixture("expected/smollm2.json"))
        for (name, reference) in try #require(expected["checked_tensors"]?.objectValue) {
            let tensor = try #require(file.sourceTensors.first { $0.name == name })
            let bytes = try file.data(tensor).bytes
            #expect(SHA256.hex(bytes) == reference["sha256_f32"]?.stringValue, "\(name): gguf-py's values")
            #expect(tensor.elementCount == reference["count"]?.intValue, "\(name)")
        }
        if Writers.pythonSafetensors {
            let check = try runPythonCheck("check_safetensors.py", [output, "--gguf", path])
            #expect(check.status == 0, "\(check.output)")
        }
    }
}
