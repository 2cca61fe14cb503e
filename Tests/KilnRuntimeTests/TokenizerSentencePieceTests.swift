import Foundation
import KilnRuntime
import Testing
import TestSupport

/// SentencePiece vocabularies against Hugging Face's implementations (expected ids made by
/// Tools/make_sentencepiece_expected.py), and the rules small vocabularies make visible.
struct TokenizerSentencePieceTests {
    struct Case {
        var text: String
        var ids: [Int]
        var decoded: String
    }

    static func cases(_ fixture: String) throws -> [Case] {
        let json = try readJSON(Repository.fixture("expected/\(fixture)"))
        return try #require(json["cases"]?.arrayValue).map { item in
            Case(text: try #require(item["text"]?.stringValue), ids: try #require(item["ids"]?.arrayValue).compactMap(\.intValue),
                 decoded: try #require(item["decoded"]?.stringValue))
        }
    }

    /// Compares every case; returns how many passed, recording each failure.
    static func compare(_ tokenizer: BPETokenizer, _ cases: [Case], _ name: String) -> Int {
        var failures: [String] = []
        for c in cases {
            let ids = tokenizer.encode(c.text, parseSpecial: true)
            if ids != c.ids { failures.append("\(c.text.debugDescription): got \(ids), want \(c.ids)") }
            let decoded = tokenizer.decode(c.ids, skipSpecial: true)
            if decoded != c.decoded { failures.append("decode \(c.ids): got \(decoded.debugDescription), want \(c.decoded.debugDescription)") }
        }
        print("\(name): \(cases.count - failures.count)/\(cases.count) checks passed")
        #expect(failures.isEmpty, Comment(rawValue: name + "\n" + failures.joined(separator: "\n")))
        return cases.count - failures.count
    }

    /// llama.cpp's SentencePiece test vocabulary against `transformers`. transformers builds it
    /// with a `Metaspace(prepend_scheme="first", split=False)` pre-tokenizer, which differs from
    /// llama.cpp's rule (the golden vectors) on text that starts with a space or follows a special
    /// token; the same vocabulary with that `pre` must give transformers' ids.
    @Test(.enabled(if: !TokenizerFiles.skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func llamaSPMMatchesTransformers() throws {
        guard let path = TokenizerFiles.require(TokenizerFiles.vocabulary("llama-spm"), script: "Tools/fetch-vocab-tests.sh") else { return }
        let file = try GGUFFile(path: path)
        var spec = try #require(try TokenizerSpec(gguf: file.metadata))
        #expect(spec.model == "llama" && spec.addSpacePrefix && spec.addBOS && spec.scores.count == spec.tokens.count)
        let llamaCpp = try BPETokenizer(spec)
        spec.pre = "metaspace-first-nosplit"
        let tokenizer = try BPETokenizer(spec)
        let cases = try Self.cases("llama_spm_tokenizer.json")
        #expect(cases.count > 60)
        _ = Self.compare(tokenizer, cases, "llama-spm vs transformers")
        // Where llama.cpp's rule differs: it always puts a space first, even before a space.
        #expect(llamaCpp.encode(" Hello world") == [29871, 15043, 3186])
        #expect(tokenizer.encode(" Hello world") == [15043, 3186])
    }

    @Test(arguments: ["metaspace-bpe", "unigram"])
    func trainedTokenizerMatchesTokenizers(_ name: String) throws {
        let directory = URL(fileURLWithPath: Repository.fixture("tokenizers/\(name)"))
        let spec = try #require(try TokenizerSpec.huggingFace(directory: directory))
        #expect(spec.model == (name == "unigram" ? "unigram" : "llama"))
        let tokenizer = try BPETokenizer(spec)
        #expect(tokenizer.warnings.isEmpty, "\(tokenizer.warnings)")
        let cases = try Self.cases("\(name.replacingOccurrences(of: "-", with: "_"))_tokenizer.json")
        #expect(cases.count > 60)
        _ = Self.compare(tokenizer, cases, name)
    }
}

/// A real Gemma 3 vocabulary (262,144 tokens, whitespace runs and HTML tags as user-defined
/// tokens, no space prefix) against llama.cpp's own tokenizer on the same file
/// (Fixtures/expected/gemma3_tokenizer.json, made by Tools/make_gemma3_tokenizer_expected.py).
struct TokenizerGemma3Tests {
    static let model = Repository.path(".models/gemma-3-270m-q4_k_m.gguf")

    @Test(.enabled(if: !TokenizerFiles.skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func matchesLlamaCpp() throws {
        guard let path = TokenizerFiles.require(Self.model, script: "Tools/fetch-gemma3.sh") else { return }
        let tokenizer = try TokenizerFiles.tokenizer(gguf: path)
        #expect(tokenizer.vocabularySize == 262_144 && !tokenizer.spec.addSpacePrefix)
        let json = try readJSON(Repository.fixture("expected/gemma3_tokenizer.json"))
        var failures: [String] = []
        var checks = 0
        for item in try #require(json["cases"]?.arrayValue) {
            let text = try #require(item["text"]?.stringValue)
            for (key, parseSpecial) in [("ids", true), ("ids_text_only", false)] {
                let expected = try #require(item[key]?.arrayValue).compactMap(\.intValue)
                let ids = tokenizer.encode(text, parseSpecial: parseSpecial)
                checks += 1
                if ids != expected { failures.append("\(text.debugDescription) [\(key)]: got \(ids), want \(expected)") }
            }
        }
        let document = try String(contentsOfFile: Repository.fixture("text/gpl-3.txt"), encoding: .utf8)
        let expected = try #require(json["document"]?["ids"]?.arrayValue).compactMap(\.intValue)
        let ids = tokenizer.encode(document, parseSpecial: false)
        checks += 1
        if ids != expected {
            let first = zip(ids, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(ids.count, expected.count)
            failures.append("gpl-3.txt: \(ids.count) ids, want \(expected.count); first difference at \(first)")
        }
        #expect(tokenizer.decode(ids) == document)
        print("gemma-3 vs llama.cpp: \(checks - failures.count)/\(checks) passed")
        #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
    }
}
