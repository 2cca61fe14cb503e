import Foundation
import KilnCore
import TestSupport
import Testing

/// Issue 15, points 2 and 5: scheme and preset names (case-insensitive, never shared), and
/// requantising an already-quantised model only on request.
struct QuantizeNamingCLITests {
    let kiln = Repository.executable("kiln")
    let gpt2 = Repository.fixture("safetensors/tiny_gpt2.safetensors")
    /// A Llama, whose embedding has the canonical name the presets' rules name.
    let llama = Repository.fixture("diff/llama_hf")

    /// The scheme each tensor got, from `kiln quantize --json`.
    func schemes(_ name: String) throws -> [String: String] {
        let directory = TemporaryDirectory()
        let result = try run(kiln, ["quantize", llama, "-o", directory.file("q.kiln"), "--scheme", name, "--json", "--method", "rtn"])
        try #require(result.status == 0, "\(name): \(result.stderr)")
        let tensors = try #require(try JSONValue.parse(result.stdout)["tensors"]?.arrayValue)
        return Dictionary(uniqueKeysWithValues: tensors.compactMap { t in t["name"]?.stringValue.map { ($0, t["scheme"]?.stringValue ?? "") } })
    }

    @Test func namesIgnoreCaseAndSchemesAreNotPresets() throws {
        let lower = try schemes("q4_0"), upper = try schemes("Q4_0")
        #expect(lower == upper, "q4_0 and Q4_0 are one scheme")
        #expect(lower["token_embd.weight"] == "q4_0", "a scheme puts every matrix in it: \(lower)")
        let preset = try schemes("q4"), presetUpper = try schemes("Q4")
        #expect(preset == presetUpper)
        #expect(preset["token_embd.weight"] == "q8_0", "the preset keeps the embedding at 8 bits: \(preset)")
        #expect(try schemes("KQ4")["token_embd.weight"] == "kq4")
        #expect(try schemes("kq4-heads8")["token_embd.weight"] == "q8_0")
    }

    @Test func unknownNameListsBoth() throws {
        let result = try run(kiln, ["quantize", gpt2, "-o", TemporaryDirectory().file("q.kiln"), "--scheme", "q3"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("unknown scheme 'q3'") && result.stderr.contains("presets: q8, q4"), "\(result.stderr)")
    }

    @Test func requantisingNeedsTheFlag() throws {
        let quantised = Repository.fixture("diff/quant.gguf")
        let directory = TemporaryDirectory()
        let output = directory.file("re.kiln")
        let refused = try run(kiln, ["quantize", quantised, "-o", output, "--scheme", "q8_0"])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("is already quantised") && refused.stderr.contains("--allow-requantize"), "\(refused.stderr)")
        #expect(directory.contents.isEmpty)
        let viaConvert = try run(kiln, ["convert", quantised, "-o", output, "--quantize", "q8_0"])
        #expect(viaConvert.status == 2 && viaConvert.stderr.contains("--allow-requantize"), "\(viaConvert.stderr)")

        let allowed = try run(kiln, ["quantize", quantised, "-o", output, "--scheme", "q8_0", "--allow-requantize"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stderr.contains("warning: requantising"), "\(allowed.stderr)")
        #expect(FileManager.default.fileExists(atPath: output))
    }

    @Test(.disabled(if: RealModel.skip)) func theRealQ4_1ModelIsRefused() throws {
        try #require(RealModel.isPresent, "\(RealModel.missingMessage)")
        let output = TemporaryDirectory().file("smol.kiln")
        let result = try run(kiln, ["quantize", RealModel.path, "-o", output, "--scheme", "q8_0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(RealModel.path): is already quantised") && result.stderr.contains("q4_1"), "\(result.stderr)")
    }
}
