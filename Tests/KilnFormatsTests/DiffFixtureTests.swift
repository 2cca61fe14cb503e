import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// `ModelDiff` against numpy: for each fixture pair (Tools/make_diff_fixtures.py), every tensor's
/// status, types, shapes and statistics equal what numpy computed in float64 from the same
/// files (within 1e-9 relative), whatever the chunk size and thread count; tensors on one side
/// only and the metadata keys that differ are as made.
struct DiffFixtureTests {
    static let pairs = ["plain", "quant", "llama_edit"]

    /// (chunk elements, threads): the default, chunks that do not divide rows, one thread.
    static let schedules: [(Int, Int)] = [(1 << 16, 2), (1000, 2), (37, 1)]

    @Test(arguments: pairs, [0, 1])
    func statisticsMatchNumpy(_ pair: String, toleranceIndex: Int) throws {
        let expected = try readJSON(Repository.fixture("diff/\(pair).expected.json"))
        let files = (expected["files"]?.arrayValue ?? []).compactMap(\.stringValue)
        try #require(files.count == 2)
        let tolerance = try #require(expected["tolerances"]?.arrayValue?[toleranceIndex])
        for (chunk, threads) in Self.schedules {
            let options = ModelDiff.Options(
                tolerance: .init(absolute: try #require(tolerance["atol"]?.doubleValue), relative: try #require(tolerance["rtol"]?.doubleValue)),
                tensorPatterns: expected["tensor_glob"]?.stringValue.map { [$0] } ?? [], threads: threads, chunkElements: chunk)
            let report = try ModelDiff.compare(Repository.fixture("diff/\(files[0])"), Repository.fixture("diff/\(files[1])"), options: options)
            let context = "\(pair), tolerance \(toleranceIndex), chunk \(chunk), \(threads) threads"

            #expect(report.onlyInA.map(\.name).sorted() == expected["only_in_a"]?.arrayValue?.compactMap(\.stringValue), "\(context)")
            #expect(report.onlyInB.map(\.name).sorted() == expected["only_in_b"]?.arrayValue?.compactMap(\.stringValue), "\(context)")
            let references = try #require(expected["tensors"]?.objectValue)
            #expect(Set(report.tensors.map(\.name)) == Set(references.keys), "\(context): matched tensors")
            for tensor in report.tensors {
                guard let reference = references[tensor.name] else { continue }
                try check(tensor, against: reference, toleranceIndex: toleranceIndex, context: "\(context): \(tensor.name)")
            }
        }
    }

    private func check(_ tensor: DiffReport.TensorDifference, against reference: JSONValue, toleranceIndex: Int, context: String) throws {
        #expect(tensor.status.rawValue == reference["status"]?.arrayValue?[toleranceIndex].stringValue, "\(context): status")
        #expect(tensor.a.type.name == reference["type_a"]?.stringValue, "\(context): type A")
        #expect(tensor.b.type.name == reference["type_b"]?.stringValue, "\(context): type B")
        #expect(tensor.a.shape == reference["shape_a"]?.arrayValue?.compactMap(\.intValue), "\(context): shape A")
        #expect(tensor.b.shape == reference["shape_b"]?.arrayValue?.compactMap(\.intValue), "\(context): shape B")
        guard tensor.status != .shapeChanged else {
            #expect(tensor.comparison == nil, "\(context)")
            return
        }
        let c = try #require(tensor.comparison, "\(context): statistics")
        #expect(c.elements == reference["elements"]?.intValue, "\(context): elements")
        #expect(c.beyondTolerance == reference["beyond_tolerance"]?.arrayValue?[toleranceIndex].intValue, "\(context): beyond")
        if tensor.method == .values {
            // Tensors found identical by their bytes skip the arithmetic; their statistics are exact zeros.
            #expect(c.unequal == reference["unequal"]?.intValue, "\(context): unequal")
            #expect(c.nonFiniteMismatches == reference["non_finite_mismatches"]?.intValue, "\(context): non-finite")
        }
        for (name, value) in [("max_abs", c.maxAbs), ("mean_abs", c.meanAbs), ("rmse", c.rmse), ("relative_rmse", c.relativeRMSE),
                              ("cosine", c.cosine), ("snr_db", c.snrDB)] {
            let want = try Self.number(reference[name], context: "\(context): \(name)")
            #expect(Self.close(value, want), "\(context): \(name) is \(value), numpy gives \(want)")
        }
    }

    /// Within 1e-9 relative; infinities and NaN must match exactly.
    static func close(_ x: Double, _ y: Double) -> Bool {
        if !y.isFinite || !x.isFinite { return x == y || (x.isNaN && y.isNaN) }
        return abs(x - y) <= 1e-9 * max(abs(x), abs(y))
    }

    /// A number from an expected file, where non-finite values are the strings "inf", "-inf", "nan".
    static func number(_ value: JSONValue?, context: String) throws -> Double {
        switch value {
        case .string("inf")?: return .infinity
        case .string("-inf")?: return -.infinity
        case .string("nan")?: return .nan
        default:
            guard let number = value?.doubleValue else { throw KilnError(.usage, "\(context): no number in the expected file") }
            return number
        }
    }

    @Test func metadataDifferencesAreTheEditsMade() throws {
        let expected = try readJSON(Repository.fixture("diff/llama_edit.expected.json"))
        let report = try ModelDiff.compare(
            Repository.fixture("diff/llama_hf/model.safetensors"), Repository.fixture("diff/llama_hf_edited/model.safetensors"))
        #expect(report.metadata.map(\.key).sorted() == expected["metadata_keys"]?.arrayValue?.compactMap(\.stringValue))
        let tokens = try #require(report.metadata.first { $0.key == "tokenizer.tokens" })
        #expect(tokens.counts == ["added": 2, "removed": 0, "changed": 1])
        #expect(tokens.details == [#"~ 263: "o" → "i""#, #"+ 269: "<|im_start|>""#, #"+ 270: "<|im_end|>""#])
        let eos = try #require(report.metadata.first { $0.key == "tokenizer.eos_id" })
        #expect(eos.a == #"2 "</s>""# && eos.b == #"270 "<|im_end|>""#)
        let template = try #require(report.metadata.first { $0.key == "tokenizer.chat_template" })
        #expect(template.details.contains("+{% if add_generation_prompt %}<|im_start|>assistant"))
        #expect(template.details.contains("-{{ m['content'] }}</s>"))
        #expect(report.metadata.first { $0.key == "config.norm_epsilon" }.map { [$0.a, $0.b] } == ["1e-06", "1e-05"])
        #expect(report.isDifferent(failOn: .changed))

        let plain = try readJSON(Repository.fixture("diff/plain.expected.json"))
        let plainReport = try ModelDiff.compare(Repository.fixture("diff/plain_a.safetensors"), Repository.fixture("diff/plain_b.safetensors"))
        #expect(plainReport.metadata.map(\.key) == plain["metadata_keys"]?.arrayValue?.compactMap(\.stringValue))
    }

    /// Worst first: shape changes, then changed by relative RMSE, then the rest.
    @Test func tensorsAreSortedWorstFirst() throws {
        let report = try ModelDiff.compare(
            Repository.fixture("diff/llama_hf/model.safetensors"), Repository.fixture("diff/llama_hf_edited/model.safetensors"))
        #expect(report.tensors.prefix(6).map(\.name) == [
            "output.weight", "token_embd.weight", "blk.0.ffn_up.weight", "blk.1.attn_q.weight", "blk.1.attn_v.weight",
            "blk.0.attn_k.weight",
        ])
        #expect(report.tensors[6].status == .withinTolerance)
        #expect(report.tensors.dropFirst(7).allSatisfy { $0.status == .identical })
        #expect(report.identicalCount == 13 && report.withinToleranceCount == 1 && report.changedCount == 6)
        #expect(report.typeChangeCount == 2)
    }

    /// `--tensors` globs select canonical names; dots are ordinary characters.
    @Test func tensorGlobsSelectCanonicalNames() throws {
        let options = ModelDiff.Options(tensorPatterns: ["blk.*.attn_q.weight", "output_norm.*"])
        let report = try ModelDiff.compare(
            Repository.fixture("diff/llama_hf/model.safetensors"), Repository.fixture("diff/llama_hf_edited/model.safetensors"),
            options: options)
        #expect(report.tensors.map(\.name).sorted() == ["blk.0.attn_q.weight", "blk.1.attn_q.weight", "output_norm.weight"])
        #expect(report.onlyInA.isEmpty && report.onlyInB.isEmpty)
    }
}
