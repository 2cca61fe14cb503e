import Foundation
import KilnCore
import KilnFormats
import KilnQuant
import KilnRuntime
import TestSupport
import Testing

/// `Quantization.quantize`: recipes decide each tensor's scheme, the report's errors are what
/// decoding the written file gives, and provenance records the recipe and errors.
struct QuantizationPipelineTests {
    @Test func recipeReportAndProvenance() throws {
        let directory = TemporaryDirectory()
        let source = Repository.fixture("safetensors/tiny_gpt2.safetensors")
        let model = try CanonicalModel.open(source)
        let recipe = try QuantRecipe(json: try JSONValue.parse(#"""
            {"name": "test", "default": "kq4", "rules": [{"match": "h.*.attn.c_attn.weight", "scheme": "q8_0"},
                                                          {"match": "wte.weight", "scheme": "q4_1"}]}
            """#))
        let output = directory.file("q.kiln")
        let report = try Quantization.quantize(model, output: output, options: .init(recipe: recipe, threads: 2))
        let file = try KilnFile(path: output)
        #expect(file.verify().isSound)

        for entry in report.entries {
            let info = try file.info(entry.name)
            let sourceTensor = try #require(model.tensor(named: entry.name))
            if sourceTensor.shape.count != 2 {
                #expect(entry.error == nil && info.type == .f32, "\(entry.name): vectors are kept")
                continue
            }
            let expectedType: ElementType = entry.name.hasSuffix("attn.c_attn.weight") ? .q8_0 : entry.name == "wte.weight" ? .q4_1 : .kq4
            // Stored in the kernels' interleaved layout when the scheme has one.
            #expect(info.type == expectedType || info.type == expectedType.interleavedVariant, "\(entry.name): \(info.type)")
            // The reported error is what decoding the file gives (a second computation here).
            let original = try sourceTensor.type.dequantize(try model.data(sourceTensor).bytes, elementCount: sourceTensor.elementCount)
            let decoded = try file.dequantized(entry.name)
            var sum = 0.0, maxAbs = 0.0
            for (a, b) in zip(original, decoded) {
                let d = Double(a) - Double(b)
                sum += d * d
                maxAbs = max(maxAbs, abs(d))
            }
            let rmse = (sum / Double(original.count)).squareRoot()
            let error = try #require(entry.error)
            #expect(abs(error.rmse - rmse) <= 1e-12 * max(1, rmse), "\(entry.name)")
            #expect(error.maxAbs == maxAbs, "\(entry.name)")
        }
        let provenance = try #require(file.metadata["provenance.quantization"]?.mapValue)
        #expect(provenance["recipe"]?.mapValue?["name"] == "test")
        #expect(provenance["tensors"]?.arrayValue?.count == report.entries.filter { $0.error != nil }.count)
        let bits = try #require(provenance["bits_per_weight"]?.doubleValue)
        #expect(abs(bits - report.bitsPerWeight) < 1e-12)
        #expect(report.bitsPerWeight > 4.5 && report.bitsPerWeight < 32)
    }

    @Test func recipeFallsBackForRaggedRows() {
        let recipe = QuantRecipe(name: "x", defaultScheme: .kq4)
        #expect(recipe.scheme(for: "a", shape: [4, 64]) == .kq4)
        #expect(recipe.scheme(for: "a", shape: [4, 48]) == .f16)
        #expect(recipe.scheme(for: "norm", shape: [64]) == nil)
        let q8 = QuantRecipe(name: "x", defaultScheme: .q8_0)
        #expect(q8.scheme(for: "a", shape: [2, 96]) == .q8_0)
    }

    @Test func globs() {
        #expect(Glob.matches("blk.*.attn_v.weight", "blk.12.attn_v.weight"))
        #expect(!Glob.matches("blk.*.attn_v.weight", "blk.12.attn_q.weight"))
        #expect(Glob.matches("*", ""))
        #expect(Glob.matches("blk.?.ffn_*", "blk.3.ffn_down.weight"))
        #expect(!Glob.matches("blk.?.ffn_*", "blk.13.ffn_down.weight"))
    }
}

/// `kiln diff` of a model against its quantised copy repeats, tensor for tensor, the errors
/// `kiln quantize` reported (both use `TensorComparison`).
struct QuantizationDiffAgreementTests {
    @Test func diffRepeatsTheQuantisationReport() throws {
        let directory = TemporaryDirectory()
        let source = Repository.fixture("models/tiny-llama/model.safetensors")
        let output = directory.file("q.kiln")
        let report = try Quantization.quantize(try CanonicalModel.open(source), output: output,
                                               options: .init(recipe: QuantRecipe.preset("q4-mixed", layers: 2)!, threads: 2))
        let diff = try ModelDiff.compare(source, output)
        var checked = 0
        for entry in report.entries {
            guard let error = entry.error else { continue }
            let difference = try #require(diff.tensors.first { $0.name == entry.name }, "\(entry.name) matched by name")
            let comparison = try #require(difference.comparison, "\(entry.name) compared")
            #expect(abs(comparison.rmse - error.rmse) <= 1e-9 * max(error.rmse, 1e-30), "\(entry.name) rmse")
            #expect(comparison.maxAbs == error.maxAbs, "\(entry.name) max abs")
            #expect(abs(comparison.snrDB - error.snrDecibels) <= 1e-9 * abs(error.snrDecibels), "\(entry.name) SNR")
            checked += 1
        }
        #expect(checked >= 14)
    }
}
