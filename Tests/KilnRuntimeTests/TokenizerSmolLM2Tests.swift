import Foundation
import KilnRuntime
import Testing
import TestSupport

/// SmolLM2-135M-Instruct's tokenizer, read from its GGUF, against `transformers` on hard strings
/// (Fixtures/expected/smollm2_tokenizer.json, made by Tools/make_tokenizer_expected.py).
struct TokenizerSmolLM2Tests {
    struct Case {
        var text: String
        var ids: [Int]
        var idsSplitSpecial: [Int]
        var decoded: String
        var decodedSkipSpecial: String
    }

    static func cases() throws -> [Case] {
        let json = try readJSON(Repository.fixture("expected/smollm2_tokenizer.json"))
        return try #require(json["cases"]?.arrayValue).map { item in
            func ids(_ key: String) throws -> [Int] {
                let values = item[key]?.arrayValue
                return try #require(values).compactMap(\.intValue)
            }
            return Case(text: try #require(item["text"]?.stringValue), ids: try ids("ids"),
                        idsSplitSpecial: try ids("ids_split_special"),
                        decoded: try #require(item["decoded"]?.stringValue),
                        decodedSkipSpecial: try #require(item["decoded_skip_special"]?.stringValue))
        }
    }

    static func tokenizer() -> BPETokenizer? {
        guard TokenizerFiles.require(TokenizerFiles.smolLM2, script: "Tools/fetch-smollm2.sh") != nil else { return nil }
        return TokenizerFiles.smolLM2Tokenizer
    }

    @Test(.enabled(if: !TokenizerFiles.skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func matchesTransformers() throws {
        guard let tokenizer = Self.tokenizer() else { return }
        #expect(tokenizer.preTokenizer == .digitsThenGPT2)
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.warnings.isEmpty, "\(tokenizer.warnings)")
        let cases = try Self.cases()
        #expect(cases.count > 80)
        var passed = 0
        for c in cases {
            let ids = tokenizer.encode(c.text)
            #expect(ids == c.ids, "\(c.text.debugDescription)")
            #expect(tokenizer.encode(c.text, parseSpecial: false) == c.idsSplitSpecial, "\(c.text.debugDescription), special tokens as text")
            if ids == c.ids { passed += 1 }
        }
        print("SmolLM2 vs transformers: \(passed)/\(cases.count) passed")
    }

    @Test(.enabled(if: !TokenizerFiles.skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func decodesLikeTransformers() throws {
        guard let tokenizer = Self.tokenizer() else { return }
        for c in try Self.cases() {
            // Bytes, not String ==, which would call "é" and "e\u{301}" equal.
            #expect(Array(tokenizer.decode(c.ids).utf8) == Array(c.decoded.utf8), "\(c.text.debugDescription)")
            #expect(Array(tokenizer.decode(c.ids, skipSpecial: true).utf8) == Array(c.decodedSkipSpecial.utf8),
                    "\(c.text.debugDescription), skipping special tokens")
        }
    }

    @Test(.enabled(if: !TokenizerFiles.skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func chatTurnAndVocabularyLookups() throws {
        guard let tokenizer = Self.tokenizer() else { return }
        #expect(tokenizer.encode("<|im_start|>user\nhi<|im_end|>") == [1, 4093, 198, 6004, 2])
        #expect(tokenizer.id(of: "<|im_start|>") == 1)
        #expect(tokenizer.token(2) == "<|im_end|>")
        #expect(tokenizer.id(of: "Ġworld") != nil)
        #expect(tokenizer.token(-1) == nil && tokenizer.token(49152) == nil)
        // Digits are always single tokens: the vocabulary has no token with a digit and anything else.
        #expect(tokenizer.encode("2024").count == 4)
    }
}
