import Foundation
import KilnRuntime
import Testing
import TestSupport

/// BPE itself, on tiny vocabularies whose answers can be worked out by hand.
struct TokenizerBPETests {
    @Test func mergesApplyByRankNotPosition() throws {
        let bcFirst = try syntheticTokenizer(merges: ["b c", "a b"])
        #expect(bcFirst.encode("abc").map { bcFirst.token($0)! } == ["a", "bc"])
        let abFirst = try syntheticTokenizer(merges: ["a b", "b c"])
        #expect(abFirst.encode("abc").map { abFirst.token($0)! } == ["ab", "c"])
    }

    @Test func equalRanksMergeLeftmostFirst() throws {
        let tokenizer = try syntheticTokenizer(merges: ["a a"])
        #expect(tokenizer.encode("aaa").map { tokenizer.token($0)! } == ["aa", "a"])
        #expect(tokenizer.encode("aaaaa").map { tokenizer.token($0)! } == ["aa", "aa", "a"])
        let longer = try syntheticTokenizer(merges: ["a a", "aa aa"])
        #expect(longer.encode("aaaaaa").map { longer.token($0)! } == ["aaaa", "aa"])
    }

    @Test func mergesChainWithinAPieceOnly() throws {
        let tokenizer = try syntheticTokenizer(merges: ["Ġ t", "h e", "Ġt he", "e Ġ"])
        #expect(tokenizer.encode(" the").map { tokenizer.token($0)! } == ["Ġthe"])
        // "e " spans two pieces ("the", " the"), so `e Ġ` never applies.
        #expect(tokenizer.encode("the the").map { tokenizer.token($0)! } == ["t", "he", "Ġthe"])
    }

    @Test func bytesAreSpelledInGPT2sAlphabet() throws {
        let tokenizer = try syntheticTokenizer()
        #expect(tokenizer.encode(" \n\t\u{7F}é").map { tokenizer.token($0)! } == ["Ġ", "Ċ", "ĉ", "ġ", "Ã", "©"])
        #expect(tokenizer.encode("🦙").count == 4)
    }

    @Test func longPieceIsLinearithmicNotQuadratic() throws {
        let tokenizer = try syntheticTokenizer(merges: ["= =", "== ==", "==== ===="])
        let ids = tokenizer.encode(String(repeating: "=", count: 100_000))
        #expect(ids.count == 100_000 / 8)
    }

    @Test func ignoreMergesTakesAWholeVocabularyWord() throws {
        // "abc" is a token, but BPE never reaches it: `b c` (rank 0) fires first and no rule
        // joins `a` and `bc`.
        let merges = ["b c", "a b", "ab c"]
        let llama = try syntheticTokenizer(merges: merges, pre: "llama-bpe")
        let gpt2 = try syntheticTokenizer(merges: merges, pre: "gpt-2")
        #expect(llama.encode("abc").map { llama.token($0)! } == ["abc"])
        #expect(gpt2.encode("abc").map { gpt2.token($0)! } == ["a", "bc"])
        // Only whole pieces are looked up: in " abc" the piece is "Ġabc", not a token.
        #expect(llama.encode(" abc").map { llama.token($0)! } == ["Ġ", "a", "bc"])
    }

    @Test func specialTokensLeftmostLongest() throws {
        let tokenizer = try syntheticTokenizer(added: [("<a>", .control), ("<a><b>", .control), ("<think>", .userDefined)])
        let a = tokenizer.id(of: "<a>")!, ab = tokenizer.id(of: "<a><b>")!, think = tokenizer.id(of: "<think>")!
        let x = tokenizer.id(of: "x")!, y = tokenizer.id(of: "y")!
        #expect(tokenizer.encode("x<a><b>y") == [x, ab, y])
        #expect(tokenizer.encode("x<a>y<think>") == [x, a, y, think])
        // Without parseSpecial control tokens are text, user-defined ones still match.
        let plain = tokenizer.encode("<a><think>", parseSpecial: false)
        #expect(!plain.contains(a) && plain.last == think)
        #expect(tokenizer.decode(plain) == "<a><think>")
        #expect(tokenizer.decode([x, a, think], skipSpecial: true) == "x<think>")
    }

    @Test func unknownPreTokenizerFallsBackToGPT2WithAWarning() throws {
        let tokenizer = try syntheticTokenizer(pre: "default")
        #expect(tokenizer.preTokenizer == .gpt2)
        #expect(tokenizer.warnings.contains { $0.contains("'default'") })
    }

    @Test func rejectsWhatItCannotRun() throws {
        #expect(throws: KilnError.self) {
            try BPETokenizer(TokenizerSpec(model: "bert", pre: "default", tokens: ["[UNK]"], merges: []))
        }
        let tokenizer = try syntheticTokenizer(merges: ["a zz"])
        #expect(tokenizer.warnings.contains { $0.contains("1 of 1 merge rules") })
    }

    @Test func concurrentEncodingAgreesWithSerial() async throws {
        let tokenizer = try syntheticTokenizer(merges: ["Ġ t", "h e", "Ġt he", "a n", "Ġ an", "Ġan d"])
        var random = SeededRandom(seed: 7)
        let words = ["the", "and", "cat", "🦙", "12", "  ", "\n"]
        let texts = (0..<64).map { _ in (0..<50).map { _ in words[Int(random.next() % UInt64(words.count))] }.joined(separator: " ") }
        let serial = texts.map { tokenizer.encode($0) }
        let parallel = await withTaskGroup(of: (Int, [Int]).self) { group in
            for (i, text) in texts.enumerated() { group.addTask { (i, tokenizer.encode(text)) } }
            var out = [[Int]](repeating: [], count: texts.count)
            for await (i, ids) in group { out[i] = ids }
            return out
        }
        #expect(parallel == serial)
    }
}
