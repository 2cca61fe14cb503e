import Foundation
import KilnCore
import TestSupport
import Testing

/// `kiln diff` end to end: exit status 0 (equal within tolerance), 1 (different), 2 (any error),
/// and the JSON shape scripts rely on.
struct DiffCLITests {
    let kiln = Repository.executable("kiln")
    let hfA = Repository.fixture("diff/llama_hf/model.safetensors")
    let hfB = Repository.fixture("diff/llama_hf_edited/model.safetensors")

    @Test func equalModelsExitZero() throws {
        let same = try run(kiln, ["diff", hfA, hfA])
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.stdout.contains("summary: 21 identical, 0 changed, 0 only in A, 0 only in B"))
        #expect(same.stdout.hasSuffix(": equal\n"))

        // A GGUF and the safetensors it came from: tensors identical; the tokenizer as llama.cpp
        // rewrote it is a real difference, so metadata is left out to get 0.
        let crossFormat = try run(kiln, ["diff", hfA, Repository.fixture("diff/llama.gguf"), "--ignore-key", "*"])
        #expect(crossFormat.status == 0, "\(crossFormat.stdout)\(crossFormat.stderr)")
    }

    @Test func differentModelsExitOneWithJSON() throws {
        let result = try run(kiln, ["diff", hfA, hfB, "--json"])
        #expect(result.status == 1, "\(result.stderr)")
        let json = try JSONValue.parse(result.stdout)
        #expect(json["identical"]?.intValue == 13)
        #expect(json["changed"]?.intValue == 6)
        #expect(json["within_tolerance"]?.intValue == 1)
        #expect(json["only_in_a"] == .array([.string("blk.1.ffn_gate.weight")]))
        #expect(json["only_in_b"] == .array([.string("model.extra_scale")]))
        #expect(json["equal"] == .bool(false))
        let tensors = try #require(json["tensors"]?.arrayValue)
        #expect(tensors.count == 20)
        let up = try #require(tensors.first { $0["name"] == .string("blk.0.ffn_up.weight") })
        for key in ["max_abs", "mean_abs", "rmse", "relative_rmse", "cosine", "snr_db", "beyond_tolerance", "beyond_fraction"] {
            #expect(up[key]?.doubleValue != nil, "\(key)")
        }
        #expect(up["status"] == .string("changed") && up["type_a"] == .string("f32"))
        let identical = try #require(tensors.first { $0["status"] == .string("identical") })
        #expect(identical["snr_db"] == .null, "infinite SNR is null in JSON")
        let metadata = try #require(json["metadata"]?.arrayValue)
        let tokens = try #require(metadata.first { $0["key"] == .string("tokenizer.tokens") })
        #expect(tokens["counts"]?["added"]?.intValue == 2)

        let onlyChanged = try JSONValue.parse(try run(kiln, ["diff", hfA, hfB, "--json", "--only-changed"]).stdout)
        #expect(onlyChanged["tensors"]?.arrayValue?.count == 7)
        #expect(onlyChanged["identical"]?.intValue == 13, "counts still cover every tensor")
    }

    /// --atol/--rtol decide "changed"; --fail-on any also counts tensors on one side only.
    @Test func toleranceAndFailOn() throws {
        let k = ["diff", hfA, hfB, "--tensors", "blk.0.attn_k.weight", "--ignore-key", "*"]
        #expect(try run(kiln, k).status == 1, "1e-6 noise is a difference at the default exact tolerance")
        #expect(try run(kiln, k + ["--atol", "1e-5"]).status == 0)
        #expect(try run(kiln, k + ["--rtol", "1e-9"]).status == 1, "a relative 1e-9 is too tight for 1e-6 noise")

        let plainA = Repository.fixture("diff/plain_a.safetensors"), plainB = Repository.fixture("diff/plain_b.safetensors")
        let oneSided = ["diff", plainA, plainB, "--tensors", "same", "--tensors", "only_*", "--ignore-key", "source.*"]
        let changed = try run(kiln, oneSided)
        #expect(changed.status == 0, "\(changed.stdout)")
        #expect(changed.stdout.contains("only in A: only_a"))
        #expect(try run(kiln, oneSided + ["--fail-on", "any"]).status == 1)
    }

    @Test func errorsExitTwo() throws {
        let directory = TemporaryDirectory()
        let missing = try run(kiln, ["diff", hfA, directory.file("nope.safetensors")])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nope.safetensors"))
        // Malformed input is an error here (2), not a difference (1).
        let malformed = try run(kiln, ["diff", hfA, Repository.fixture("malformed/size_mismatch.safetensors")])
        #expect(malformed.status == 2)
        #expect(malformed.stderr.contains("size_mismatch.safetensors"))
        #expect(try run(kiln, ["diff", hfA]).status == 2)
        #expect(try run(kiln, ["diff", hfA, hfB, "--atol", "-1"]).status == 2)
        #expect(try run(kiln, ["diff", hfA, hfB, "--fail-on", "sometimes"]).status == 2)
        let help = try run(kiln, ["diff", "--help"])
        #expect(help.status == 0 && help.stdout.contains("--fail-on"))
    }

    /// The real model against its own conversion: identical, exit 0.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["KILN_SKIP_REAL_MODEL"] != "1", "KILN_SKIP_REAL_MODEL=1"))
    func realModelAgainstItsConversion() throws {
        let model = Repository.path(".models/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileManager.default.fileExists(atPath: model) else {
            Issue.record("\(model) is missing: run Tools/fetch-smollm2.sh (or set KILN_SKIP_REAL_MODEL=1 to skip)")
            return
        }
        let directory = TemporaryDirectory()
        let output = directory.file("smollm2.kiln")
        #expect(try run(kiln, ["convert", model, "-o", output]).status == 0)
        let result = try run(kiln, ["diff", model, output, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONValue.parse(result.stdout)
        #expect(json["identical"]?.intValue == 272 && json["changed"]?.intValue == 0)
        #expect(json["metadata"]?.arrayValue?.isEmpty == true)
        #expect(json["equal"] == .bool(true))
    }
}
