import Foundation
import KilnRuntime
import Testing
import TestSupport

/// The hand-written pre-tokenizers against the regexes they replace, run by HF tokenizers
/// (Oniguruma) and Python's `regex` on hard and seeded random strings
/// (Fixtures/expected/pretokenizer_splits.json, made by Tools/make_tokenizer_expected.py).
struct TokenizerPreTokenizerTests {
    @Test(arguments: PreTokenizer.allCases)
    func matchesTheRegex(_ preTokenizer: PreTokenizer) throws {
        let json = try readJSON(Repository.fixture("expected/pretokenizer_splits.json"))
        let cases = try #require(json["cases"]?.arrayValue)
        #expect(cases.count > 200)
        var failures = 0
        for item in cases {
            let text = try #require(item["text"]?.stringValue)
            let pieces = item[preTokenizer.rawValue]?.arrayValue
            let want = try #require(pieces).compactMap(\.stringValue)
            let got = preTokenizer.pieces(of: text)
            // Compare bytes: String == treats canonically equivalent texts as equal.
            if got.map({ Array($0.utf8) }) != want.map({ Array($0.utf8) }) {
                failures += 1
                Issue.record("\(preTokenizer) on \(text.debugDescription): got \(got.map(\.debugDescription)), want \(want.map(\.debugDescription))")
            }
        }
        #expect(failures == 0)
    }

    /// `\s` is the White_Space property, which the splitters check from a written-out list:
    /// the list against the property, for every character of the Basic Multilingual Plane (no
    /// character above it is White_Space). GPT-2's pattern cuts `c c a` into three pieces
    /// exactly when `c` is whitespace other than the space: `\s+(?!\S)`, then `\s+`, then `a`.
    @Test func whitespaceIsTheWhiteSpaceProperty() {
        for value in UInt32(0)..<0x1_0000 {
            guard let scalar = Unicode.Scalar(value), scalar != " " else { continue }
            let c = String(scalar)
            let splitAsWhitespace = PreTokenizer.gpt2.pieces(of: c + c + "a").count == 3
            if splitAsWhitespace != scalar.properties.isWhitespace {
                Issue.record("U+\(String(value, radix: 16)): split as whitespace \(splitAsWhitespace)")
            }
        }
    }

    @Test func namesMapAsInLlamaCpp() {
        #expect(PreTokenizer(vocabularyName: "gpt-2") == .gpt2)
        #expect(PreTokenizer(vocabularyName: "smollm") == .digitsThenGPT2)
        #expect(PreTokenizer(vocabularyName: "starcoder") == .digitsThenGPT2)
        #expect(PreTokenizer(vocabularyName: "llama-bpe") == .llama3)
        #expect(PreTokenizer(vocabularyName: "qwen2") == .qwen2)
        #expect(PreTokenizer(vocabularyName: "default") == nil)
    }

    @Test func examples() {
        #expect(PreTokenizer.gpt2.pieces(of: "Hello  world's 123!!") == ["Hello", " ", " world", "'s", " 123", "!!"])
        #expect(PreTokenizer.digitsThenGPT2.pieces(of: "a  12") == ["a", "  ", "1", "2"])
        #expect(PreTokenizer.llama3.pieces(of: "12345 I'M\n\n x") == ["123", "45", " I", "'M", "\n\n", " x"])
        #expect(PreTokenizer.qwen2.pieces(of: "12 ab") == ["1", "2", " ab"])
    }
}
