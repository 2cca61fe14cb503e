import Foundation
import KilnCore
@testable import KilnFormats
import TestSupport
import Testing

/// The metadata half of `kiln diff`: tokenizer parts, chat-template excerpts, config numbers at
/// f32 precision, source keys compared only between models of the same origin, ignore globs.
struct DiffMetadataTests {
    static func tokenizer(_ tokens: [String], merges: [String] = ["a b"], eos: Int? = 1, template: String? = nil) -> TokenizerSpec {
        TokenizerSpec(model: "gpt2", pre: "gpt-2", tokens: tokens, merges: merges, eosID: eos, chatTemplate: template)
    }

    @Test func tokenizerPartsAreCountedWithExamples() {
        let a = Self.tokenizer(["a", "b", "c", "d"], merges: ["a b", "c d"], template: "x\ny\nz")
        let b = Self.tokenizer(["a", "B", "c", "d", "e", "f"], merges: ["a b"], eos: 4, template: "x\nY\nz")
        let differences = TokenizerComparison.compare(a, b)
        #expect(differences.map(\.key) == ["tokenizer.tokens", "tokenizer.merges", "tokenizer.eos_id", "tokenizer.chat_template"])
        #expect(differences[0].counts == ["added": 2, "removed": 0, "changed": 1])
        #expect(differences[0].details == [#"~ 1: "b" → "B""#, #"+ 4: "e""#, #"+ 5: "f""#])
        #expect(differences[1].counts == ["added": 0, "removed": 1, "changed": 0])
        #expect(differences[2].a == #"1 "b""# && differences[2].b == #"4 "e""#)
        #expect(differences[3].details == ["@@ line 1 @@", " x", "-y", "+Y", " z"])
        #expect(TokenizerComparison.compare(a, a).isEmpty)
        #expect(TokenizerComparison.compare(a, nil).map(\.kind) == [.onlyInA])
    }

    @Test func lineDiffExcerptIsShortAndUnified() {
        let a = (1...40).map { "line \($0)" }.joined(separator: "\n")
        var lines = (1...40).map { "line \($0)" }
        lines[4] = "changed 5"
        lines[30] = "changed 31"
        lines.append("added")
        let excerpt = LineDiff.excerpt(a, lines.joined(separator: "\n"))
        #expect(excerpt == [
            "@@ line 4 @@", " line 4", "-line 5", "+changed 5", " line 6",
            "@@ line 30 @@", " line 30", "-line 31", "+changed 31", " line 32",
            "@@ line 40 @@", " line 40", "…",
        ])
        #expect(LineDiff.excerpt("same", "same").isEmpty)
    }

    /// GGUF keeps hyper-parameters as f32: 1e-6 and Float(1e-6) are the same config value.
    @Test func configNumbersCompareAtFloat32Precision() throws {
        let report = try ModelDiff.compare(
            Repository.fixture("diff/llama_hf/model.safetensors"), Repository.fixture("diff/llama.gguf"))
        #expect(!report.metadata.contains { $0.key == "config.norm_epsilon" })
        // llama.cpp's converter records what the HF files do not: it is a real difference.
        #expect(report.metadata.contains { $0.key == "general.name" && $0.kind == .onlyInB })
        #expect(report.notes.contains { $0.contains("source metadata not compared") })
        let ignoring = try ModelDiff.compare(
            Repository.fixture("diff/llama_hf/model.safetensors"), Repository.fixture("diff/llama.gguf"),
            options: .init(ignoredMetadata: ["tokenizer.*", "general.*"]))
        #expect(ignoring.metadata.isEmpty, "\(ignoring.metadata.map(\.key))")
        #expect(!ignoring.isDifferent(failOn: .any))
    }

    @Test func renderingIsShort() {
        #expect(MetadataComparison.render(.string("a\nb")) == #""a\nb""#)
        #expect(MetadataComparison.render(.array((1...10).map { .int($0) })) == "[10 items: 1, 2, 3, …]")
        #expect(MetadataComparison.render(.map(["a": 1])) == "{1 key}")
        #expect(MetadataComparison.quoted(String(repeating: "x", count: 100)).count == 63)
    }

    /// The text report: the table worst first, one-side tensors, metadata and the summary line.
    @Test func textReport() throws {
        let report = try ModelDiff.compare(
            Repository.fixture("diff/llama_hf/model.safetensors"), Repository.fixture("diff/llama_hf_edited/model.safetensors"))
        let text = report.text()
        let lines = text.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("tensor ") })
        #expect(lines[header + 1].hasPrefix("output.weight") && lines[header + 1].contains("shape_changed"))
        #expect(text.contains("only in A: blk.1.ffn_gate.weight  f32 [64, 32]"))
        #expect(text.contains("only in B: model.extra_scale  f32 [4]"))
        #expect(text.contains("  tokenizer.tokens: 269 tokens → 271 tokens; 2 added, 1 changed"))
        let summary = try #require(lines.last)
        #expect(summary.hasPrefix("summary: 13 identical, 1 within tolerance, 6 changed, 1 only in A, 1 only in B; 2 type changes, 7 metadata differences"))
        #expect(summary.hasSuffix(": different"))
        #expect(!report.text(onlyChanged: true).contains("blk.0.ffn_down.weight"))
    }
}
