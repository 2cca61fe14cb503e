import Foundation
import KilnRuntime
import Testing
import TestSupport

/// Decoding: round trips, and streaming that never splits a character.
struct TokenizerDecodingTests {
    static let pool: [String] = ["a", "Z", "é", "ß", "日本", "ж", "e\u{301}", "'s", "'RE", " ", "  ", "\t", "\n", "\r\n",
                                 "\u{A0}", "\u{3000}", "0", "42", "٣", "½", "!", "...", "(", "🦙", "👍🏽", "😶\u{200D}🌫\u{FE0F}",
                                 "<|im_start|>", "<|im_end", "\u{0}", "\u{FFFD}"]

    static func randomTexts(_ count: Int, seed: UInt64) -> [String] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            (0..<Int(random.next() % 30)).map { _ in pool[Int(random.next() % UInt64(pool.count))] }.joined()
        }
    }

    @Test(arguments: PreTokenizer.allCases)
    func roundTripsAnyText(_ preTokenizer: PreTokenizer) throws {
        let tokenizer = try syntheticTokenizer(merges: ["Ġ t", "h e", "Ġt he", "ðŁ ¦"], pre: preTokenizer.rawValue,
                                               added: [("<|im_start|>", .control)])
        for text in Self.randomTexts(300, seed: 1) {
            for parseSpecial in [true, false] {
                let ids = tokenizer.encode(text, parseSpecial: parseSpecial)
                #expect(Array(tokenizer.decode(ids).utf8) == Array(text.utf8), "\(text.debugDescription)")
            }
        }
    }

    @Test(.enabled(if: !TokenizerFiles.skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func smolLM2RoundTrips() throws {
        guard TokenizerFiles.require(TokenizerFiles.smolLM2, script: "Tools/fetch-smollm2.sh") != nil,
              let tokenizer = TokenizerFiles.smolLM2Tokenizer else { return }
        for text in Self.randomTexts(300, seed: 2) {
            #expect(Array(tokenizer.decode(tokenizer.encode(text)).utf8) == Array(text.utf8), "\(text.debugDescription)")
        }
    }

    /// Streams `ids` and checks the property: what `append` and `flush` return, concatenated,
    /// is `decode` of all the ids.
    @discardableResult
    static func stream(_ tokenizer: BPETokenizer, _ ids: [Int], skipSpecial: Bool = true) -> [String] {
        var decoder = StreamingDecoder(tokenizer, skipSpecial: skipSpecial)
        var parts = ids.map { decoder.append($0) }
        parts.append(decoder.flush())
        #expect(Array(parts.joined().utf8) == Array(tokenizer.decode(ids, skipSpecial: skipSpecial).utf8), "\(ids)")
        return parts
    }

    @Test(.enabled(if: !TokenizerFiles.skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func streamsEmojiSplitAcrossTokens() throws {
        guard TokenizerFiles.require(TokenizerFiles.smolLM2, script: "Tools/fetch-smollm2.sh") != nil,
              let tokenizer = TokenizerFiles.smolLM2Tokenizer else { return }
        let text = "Hi 🦙👍🏽 — 😶\u{200D}🌫\u{FE0F} 日本語!"
        let ids = tokenizer.encode(text)
        let parts = Self.stream(tokenizer, ids)
        #expect(parts.joined() == text)
        #expect(parts.contains(""), "some token ends inside a character and is held back")
        #expect(!parts.joined().unicodeScalars.contains("\u{FFFD}"))
        for text in Self.randomTexts(200, seed: 3) { Self.stream(tokenizer, tokenizer.encode(text)) }
        let chat = tokenizer.encode("<|im_start|>assistant\n🦙<|im_end|>")
        #expect(Self.stream(tokenizer, chat).joined() == "assistant\n🦙")
        #expect(Self.stream(tokenizer, chat, skipSpecial: false).joined() == "<|im_start|>assistant\n🦙<|im_end|>")
    }

    /// Byte tokens (ids 0–255 are the bytes themselves) in random order, valid UTF-8 or not.
    @Test func streamingMatchesDecodeOnArbitraryBytes() throws {
        let tokenizer = try syntheticTokenizer(added: [("<s>", .control)])
        let special = tokenizer.id(of: "<s>")!
        var random = SeededRandom(seed: 4)
        let interesting: [Int] = [0x41, 0x80, 0xBF, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x90, 0x9F, 0x8F]
        for _ in 0..<3000 {
            let ids = (0..<Int(random.next() % 12)).map { _ -> Int in
                let r = random.next() % 10
                return r == 0 ? special : r < 5 ? interesting[Int(random.next() % UInt64(interesting.count))] : Int(random.next() % 256)
            }
            Self.stream(tokenizer, ids)
            Self.stream(tokenizer, ids, skipSpecial: false)
        }
    }

    @Test func streamingHoldsBackOnlyIncompleteCharacters() throws {
        let tokenizer = try syntheticTokenizer()
        for text in ["é", "日", "🦙", "a🦙b"] {
            // One token per byte: every character is split as far as it can be.
            let parts = Self.stream(tokenizer, Array(text.utf8).map(Int.init))
            #expect(parts.joined() == text)
            #expect(parts.allSatisfy { !$0.unicodeScalars.contains("\u{FFFD}") })
        }
        // An impossible byte is not held: it decodes to U+FFFD at once.
        var decoder = StreamingDecoder(tokenizer)
        #expect(decoder.append(0xFF) == "\u{FFFD}")
        #expect(decoder.append(0xF0) == "")
        #expect(decoder.append(0x41) == "\u{FFFD}A")
        #expect(decoder.flush() == "")
    }
}
