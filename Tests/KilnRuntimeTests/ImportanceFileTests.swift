import Foundation
import KilnCore
import KilnFormats
import KilnQuant
@testable import KilnRuntime
import TestSupport
import Testing

/// Importance saved by one calibration run reads back bit for bit and steers a later
/// quantisation (`kiln quantize --save-importance` / `--importance`).
struct ImportanceFileTests {
    @Test func roundTripsEveryFloat() throws {
        let directory = TemporaryDirectory()
        var random = SeededRandom(seed: 21)
        let importance: [String: [Float]] = [
            "blk.0.attn_q.weight": (0..<64).map { _ in Float.random(in: 0...1, using: &random) * pow(10, Float.random(in: -8...3, using: &random)) },
            "output.weight": [0, 1e-30, 3.4e38, 0.1],
        ]
        let path = directory.file("imatrix.json")
        try ImportanceFile.write(importance, tokens: 77, calibrationSHA256: "ab", to: path)
        let back = try ImportanceFile.read(path)
        #expect(back.tokens == 77 && back.calibrationSHA256 == "ab")
        #expect(back.importance.mapValues { $0.map(\.bitPattern) } == importance.mapValues { $0.map(\.bitPattern) })
        try Data(#"{"tensors": {}}"#.utf8).write(to: URL(fileURLWithPath: directory.file("bad.json")))
        #expect(throws: KilnError.self) { try ImportanceFile.read(directory.file("bad.json")) }
    }

    @Test func savedImportanceSteersTheSearch() throws {
        let directory = TemporaryDirectory()
        let model = try CanonicalModel.open(Repository.fixture("models/tiny-llama/model.safetensors"))
        var random = SeededRandom(seed: 22)
        var importance: [String: [Float]] = [:]
        for tensor in model.tensors where tensor.shape.count == 2 {
            importance[tensor.name] = (0..<tensor.shape[1]).map { _ in Float.random(in: 0.001...100, using: &random) }
        }
        let path = directory.file("imatrix.json")
        try ImportanceFile.write(importance, tokens: 5, calibrationSHA256: nil, to: path)
        let recipe = QuantRecipe(name: "x", defaultScheme: .q4_0)
        let plain = try Quantization.quantize(model, output: directory.file("a.kiln"), options: .init(recipe: recipe, threads: 2))
        let steered = try Quantization.quantize(model, output: directory.file("b.kiln"), options: .init(recipe: recipe, threads: 2, importancePath: path))
        #expect(steered.calibrationTokens == 5 && plain.calibrationTokens == 0)
        // The importance reached the search: tensors came out differently.
        var changed = 0
        for (a, b) in zip(plain.entries, steered.entries) where a.error != nil && a.error?.rmse != b.error?.rmse { changed += 1 }
        #expect(changed > 0, "the importance changed no tensor")
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.file("a.kiln"))) != Data(contentsOf: URL(fileURLWithPath: directory.file("b.kiln"))))
    }
}
