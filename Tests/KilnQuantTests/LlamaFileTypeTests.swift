import KilnCore
import KilnQuant
import TestSupport
import Testing

/// Kiln's q4_k_m and q5_k_m presets and its q6_k scheme choose, tensor by tensor, the types llama-quantize
/// chose for the same model (Fixtures/quant/smollm2_llama_quantize_types.json, read back from
/// llama-quantize's output files by Tools/make_llama_quantize_types.py). SmolLM2's rows of 576
/// are not whole 256-value blocks, so this also checks the fallbacks.
struct LlamaFileTypeTests {
    @Test(arguments: ["q4_k_m", "q5_k_m", "q6_k"])
    func presetMatchesLlamaQuantize(_ fileType: String) throws {
        let fixture = try readJSON(Repository.fixture("quant/smollm2_llama_quantize_types.json"))
        let layers = try #require(fixture["layers"]?.intValue)
        let shapes = try #require(fixture["shapes"]?.objectValue)
        let expected = try #require(fixture["file_types"]?[fileType]?.objectValue)
        #expect(expected.count == shapes.count && expected.count > 200)
        let tied = shapes["output.weight"] == nil
        let recipe = try #require(QuantRecipe.named(fileType, layers: layers, tiedEmbeddings: tied))
        var mismatches: [String] = []
        for (name, type) in expected.sorted(by: { $0.key < $1.key }) {
            let shape = (shapes[name]?.arrayValue ?? []).compactMap { $0.intValue }
            let chosen = recipe.scheme(for: name, shape: shape)?.rawValue ?? "kept"
            if chosen != type.stringValue { mismatches.append("\(name): \(chosen), llama-quantize \(type.stringValue ?? "?")") }
        }
        #expect(mismatches.isEmpty, "\(fileType): \(mismatches.count) differ: \(mismatches.prefix(8))")
    }

    /// With rows that are whole super-blocks nothing falls back, and the layers "that use more
    /// bits" are llama-quantize's: the first and last eighth and every third in between.
    @Test func wideRowsKeepTheirKQuants() throws {
        let recipe = try #require(QuantRecipe.preset("q4_k_m", layers: 16, tiedEmbeddings: false))
        let v = (0..<16).map { recipe.scheme(for: "blk.\($0).attn_v.weight", shape: [1024, 2048]) }
        #expect(v.indices.filter { v[$0] == .q6_k } == [0, 1, 4, 7, 10, 13, 14, 15])
        #expect(v.allSatisfy { $0 == .q6_k || $0 == .q4_k })
        #expect(recipe.scheme(for: "blk.3.attn_q.weight", shape: [2048, 2048]) == .q4_k)
        #expect(recipe.scheme(for: "output.weight", shape: [32000, 2048]) == .q6_k)
        #expect(recipe.scheme(for: "token_embd.weight", shape: [32000, 2048]) == .q4_k)
        #expect(recipe.scheme(for: "blk.0.ffn_down.weight", shape: [2048, 5504]) == .q8_0)  // 5504 = 43 × 128
        #expect(recipe.scheme(for: "blk.3.ffn_up.weight", shape: [5504, 2000]) == .f16)  // not even 32-value blocks
    }
}
