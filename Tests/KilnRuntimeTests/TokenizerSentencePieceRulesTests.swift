import Foundation
import KilnRuntime
import Testing
import TestSupport

/// A SentencePiece vocabulary small enough to reason about: `<unk>`, `<s>`, `</s>`, the 256
/// byte tokens (ids 3–258), then `pieces` with their scores and kinds.
func sentencePieceTokenizer(_ pieces: [(String, Float)], added: [(String, TokenizerSpec.TokenKind)] = [],
                            model: String = "llama", pre: String = "default", addSpacePrefix: Bool = true) throws -> BPETokenizer {
    var tokens = ["<unk>", "<s>", "</s>"] + (0..<256).map { String(format: "<0x%02X>", $0) }
    var kinds: [TokenizerSpec.TokenKind] = [.unknown, .control, .control] + Array(repeating: .byte, count: 256)
    var scores = [Float](repeating: 0, count: tokens.count)
    for (piece, score) in pieces {
        tokens.append(piece)
        kinds.append(.normal)
        scores.append(score)
    }
    for (text, kind) in added {
        tokens.append(text)
        kinds.append(kind)
        scores.append(0)
    }
    return try BPETokenizer(TokenizerSpec(model: model, pre: pre, tokens: tokens, merges: [], kinds: kinds, bosID: 1, eosID: 2,
                                          unknownID: 0, addBOS: true, scores: scores, addSpacePrefix: addSpacePrefix))
}

struct TokenizerSentencePieceRulesTests {
    /// run.c's `encode`, written out as plainly as it is there (quadratic, strings): one token per
    /// character or its bytes' `<0xNN>` tokens, then join the best-scoring adjacent pair whose
    /// concatenation is a token, the leftmost on a tie, until none is. The second implementation
    /// the score merger is checked against.
    static func runCEncode(_ text: String, tokens: [String], scores: [Float]) -> [Int] {
        var idOf: [String: Int] = [:]
        for (id, token) in tokens.enumerated() where id > 2 { idOf[token] = id }
        guard !text.isEmpty else { return [] }
        var ids: [Int] = []
        for character in ("\u{2581}" + text.replacingOccurrences(of: " ", with: "\u{2581}")).unicodeScalars {
            if let id = idOf[String(character)] { ids.append(id) } else { ids += String(character).utf8.map { Int($0) + 3 } }
        }
        while true {
            var best: (score: Float, index: Int, id: Int)?
            for i in 0..<max(ids.count - 1, 0) {
                if let id = idOf[tokens[ids[i]] + tokens[ids[i + 1]]], best == nil || scores[id] > best!.score {
                    best = (scores[id], i, id)
                }
            }
            guard let best else { return ids }
            ids[best.index] = best.id
            ids.remove(at: best.index + 1)
        }
    }

    @Test func scoreMergingAgreesWithRunCOnRandomVocabularies() throws {
        var random = SeededRandom(seed: 17)
        let alphabet = ["a", "b", "c", "\u{2581}", "é", "日"]
        for round in 0..<20 {
            // Random pieces of 1–4 characters with distinct random scores. Every character of a
            // piece is a token itself: run.c turns a character the vocabulary lacks into bytes
            // before merging, llama.cpp (and Kiln) after, so only then do the two agree.
            var pieces: [String: Float] = [:]
            for c in alphabet { pieces[c] = -100 }
            while pieces.count < 30 {
                let length = 2 + Int(random.next() % 3)
                let piece = (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }.joined()
                pieces[piece] = -Float(random.next() % 10_000) / 100 - Float(pieces.count) * 1e-3
            }
            let sorted = pieces.sorted { $0.key < $1.key }
            let tokenizer = try sentencePieceTokenizer(sorted.map { ($0.key, $0.value) })
            let tokens = (0..<tokenizer.vocabularySize).map { tokenizer.token($0)! }
            let scores = tokenizer.spec.scores
            for _ in 0..<50 {
                let length = Int(random.next() % 12)
                let text = (0..<length).map { _ in ["a", "b", "c", " ", "é", "日", "x"][Int(random.next() % 7)] }.joined()
                let expected = Self.runCEncode(text, tokens: tokens, scores: scores)
                #expect(tokenizer.encode(text) == expected, "round \(round): \(text.debugDescription)")
                #expect(tokenizer.decode(tokenizer.encode(text)) == text)
            }
        }
    }

    /// Every way to cut `text` into known pieces (or single unknown characters), best total score.
    static func bruteForceUnigram(_ text: [Character], pieces: [String: (Int, Float)], unknownScore: Float) -> [Int] {
        var best: (Float, [Int])?
        func walk(_ start: Int, _ score: Float, _ ids: [Int]) {
            if start == text.count {
                if best == nil || score > best!.0 { best = (score, ids) }
                return
            }
            var single = false
            for end in (start + 1)...text.count {
                if let (id, s) = pieces[String(text[start..<end])] {
                    if end == start + 1 { single = true }
                    walk(end, score + s, ids + [id])
                }
            }
            if !single { walk(start + 1, score + unknownScore, ids + [0]) }
        }
        walk(0, 0, [])
        // Consecutive unknowns fuse into one.
        return best!.1.enumerated().filter { $0.offset == 0 || !($0.element == 0 && best!.1[$0.offset - 1] == 0) }.map(\.element)
    }

    @Test func unigramFindsTheBestSegmentation() throws {
        var random = SeededRandom(seed: 5)
        let alphabet: [Character] = ["a", "b", "c", "d"]
        var pieces: [String: Float] = ["\u{2581}": -2, "a": -3, "b": -3.5, "c": -4]   // no "d": unknown
        while pieces.count < 25 {
            let piece = String((0..<(2 + Int(random.next() % 3))).map { _ in alphabet[Int(random.next() % 3)] })
            pieces[piece] = -Float(random.next() % 1000) / 97 - 1
        }
        let sorted = pieces.sorted { $0.key < $1.key }
        var tokens = ["<unk>", "<s>", "</s>"], scores: [Float] = [0, 0, 0]
        for (piece, score) in sorted { tokens.append(piece); scores.append(score) }
        let spec = TokenizerSpec(model: "unigram", pre: "metaspace", tokens: tokens, merges: [],
                                 kinds: [.unknown, .control, .control] + Array(repeating: .normal, count: sorted.count),
                                 unknownID: 0, scores: scores, addSpacePrefix: true)
        let tokenizer = try BPETokenizer(spec)
        let byPiece = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1.key, ($0 + 3, $1.value)) })
        for _ in 0..<200 {
            let word = String((0..<(1 + Int(random.next() % 9))).map { _ in alphabet[Int(random.next() % 4)] })
            let expected = Self.bruteForceUnigram(Array("\u{2581}" + word), pieces: byPiece, unknownScore: scores.min()! - 10)
            #expect(tokenizer.encode(word) == expected, "\(word)")
        }
    }

    @Test func bytesNoTokenCoversFallBackToByteTokens() throws {
        let tokenizer = try sentencePieceTokenizer([("\u{2581}", -1), ("a", -2), ("\u{2581}a", -1.5)])
        // é is C3 A9: ids 3 + 0xC3, 3 + 0xA9.
        #expect(tokenizer.encode("aé") == [tokenizer.id(of: "\u{2581}a")!, 3 + 0xC3, 3 + 0xA9])
        #expect(tokenizer.decode(tokenizer.encode("aé a")) == "aé a")
    }

    @Test func addedTokensAreMatchedBeforeMerging() throws {
        let tokenizer = try sentencePieceTokenizer([("\u{2581}", -1), ("a", -2), ("<", -3), (">", -3), ("b", -3)],
                                                   added: [("<b>", .userDefined), ("<ctl>", .control)])
        let b = tokenizer.id(of: "<b>")!, ctl = tokenizer.id(of: "<ctl>")!
        let ids = tokenizer.encode("a<b>a<ctl>", parseSpecial: false)
        #expect(ids.contains(b) && !ids.contains(ctl))
        // llama.cpp puts a space before the text after each special token.
        #expect(tokenizer.encode("a<ctl>a") == [tokenizer.id(of: "\u{2581}")!, tokenizer.id(of: "a")!, ctl,
                                                 tokenizer.id(of: "\u{2581}")!, tokenizer.id(of: "a")!])
        #expect(tokenizer.decode([ctl, tokenizer.id(of: "a")!], skipSpecial: true) == "a")
    }

    @Test func decodingTakesOffTheFirstSpaceOnlyAndSkipsUnused() throws {
        var tokenizer = try sentencePieceTokenizer([("\u{2581}hi", -1), ("\u{2581}", -2)])
        let hi = tokenizer.id(of: "\u{2581}hi")!
        #expect(tokenizer.decode([hi, hi]) == "hi hi")
        #expect(tokenizer.decode([1, hi], skipSpecial: true) == "hi")
        tokenizer = try sentencePieceTokenizer([("\u{2581}hi", -1)], addSpacePrefix: false)
        #expect(tokenizer.decode([tokenizer.id(of: "\u{2581}hi")!]) == " hi")

        var spec = try sentencePieceTokenizer([("x", -1)]).spec
        spec.kinds[spec.tokens.count - 1] = .unused
        #expect(try BPETokenizer(spec).decode([spec.tokens.count - 1]) == "")
    }

    @Test func streamingDecodeAssemblesByteTokensIntoCharacters() throws {
        let tokenizer = try sentencePieceTokenizer([("\u{2581}", -1), ("a", -2)])
        let ids = tokenizer.encode("a 🦙é")
        #expect(ids.count > 6)
        for startsText in [false, true] {
            var decoder = StreamingDecoder(tokenizer, startsText: startsText)
            var pieces: [String] = []
            for id in ids { pieces.append(decoder.append(id)) }
            pieces.append(decoder.flush())
            #expect(!pieces.contains { $0.contains("\u{FFFD}") })
            #expect(pieces.joined() == (startsText ? "a 🦙é" : " a 🦙é"))
        }
    }

    @Test func hostileSpecsGiveErrors() throws {
        var spec = try sentencePieceTokenizer([("a", -1)]).spec
        spec.scores[5] = .nan
        #expect(throws: KilnError.self) { try BPETokenizer(spec) }
        spec.scores = [0, 1]
        #expect(throws: KilnError.self) { try BPETokenizer(spec) }
        // An out-of-range token type, as GGUF stores it.
        let metadata: [String: MetadataValue] = [
            "tokenizer.ggml.model": .string("llama"), "tokenizer.ggml.tokens": .array([.string("<unk>"), .string("a")]),
            "tokenizer.ggml.token_type": .array([.int(2), .int(9)]), "tokenizer.ggml.scores": .array([.float(0), .float(-1)]),
        ]
        #expect(throws: KilnError.self) { try TokenizerSpec(gguf: metadata) }
        var nanScores = metadata
        nanScores["tokenizer.ggml.token_type"] = .array([.int(2), .int(1)])
        nanScores["tokenizer.ggml.scores"] = .array([.float(0), .float(.nan)])
        #expect(throws: KilnError.self) { try TokenizerSpec(gguf: nanScores) }
        // Duplicate pieces: the later id wins, as in llama.cpp's map; no crash.
        let duplicated = try sentencePieceTokenizer([("\u{2581}", -1), ("a", -2), ("a", -3), ("\u{2581}a", -1)])
        #expect(duplicated.encode("a a") == [duplicated.id(of: "\u{2581}a")!, duplicated.id(of: "\u{2581}a")!])
        #expect(duplicated.id(of: "a") == duplicated.vocabularySize - 2)
        // No byte tokens and no unknown token: bytes it cannot spell are dropped, with a warning.
        let bare = try BPETokenizer(TokenizerSpec(model: "llama", pre: "default", tokens: ["\u{2581}", "a"], merges: [],
                                                  scores: [0, 0], addSpacePrefix: true))
        #expect(bare.warnings.contains { $0.contains("cannot spell") })
        #expect(bare.encode("aé") == [0, 1])
    }
}

/// llama2.c's `tokenizer.bin` reader against damaged files.
struct Llama2cTokenizerFileTests {
    static func file(_ tokens: [(Float, [UInt8])], maxLength: Int32 = 8) -> [UInt8] {
        var out = withUnsafeBytes(of: maxLength.littleEndian, Array.init)
        for (score, bytes) in tokens {
            out += withUnsafeBytes(of: score.bitPattern.littleEndian, Array.init)
            out += withUnsafeBytes(of: Int32(bytes.count).littleEndian, Array.init)
            out += bytes
        }
        return out
    }

    func read(_ bytes: [UInt8], vocabularySize: Int) throws -> TokenizerSpec {
        let directory = TemporaryDirectory()
        try writeFile(directory.file("tokenizer.bin"), bytes)
        return try Llama2cTokenizer.read(path: directory.file("tokenizer.bin"), vocabularySize: vocabularySize)
    }

    @Test func readsTokensWithSpacesAsMarks() throws {
        let bytes = Self.file([(0, Array("<unk>".utf8)), (0, Array("<s>".utf8)), (0, Array("</s>".utf8)),
                               (0, Array("<0x41>".utf8)), (-1, Array(" the".utf8))])
        let spec = try read(bytes, vocabularySize: 5)
        #expect(spec.tokens == ["<unk>", "<s>", "</s>", "<0x41>", "\u{2581}the"])
        #expect(spec.kinds == [.unknown, .control, .control, .byte, .normal])
        #expect(spec.scores == [0, 0, 0, 0, -1])
    }

    @Test func damagedFilesGiveErrorsNamingTheToken() throws {
        let good = Self.file([(0, Array("<unk>".utf8)), (0, Array("<s>".utf8)), (0, Array("</s>".utf8)), (-1, Array(" the".utf8))])
        func expectError(_ bytes: [UInt8], vocabularySize: Int = 4, _ words: [String]) {
            do {
                _ = try read(bytes, vocabularySize: vocabularySize)
                Issue.record("no error for \(words)")
            } catch let error as KilnError {
                let text = "\(error)"
                for word in words { #expect(text.contains(word), "\(text)") }
            } catch {
                Issue.record("not a KilnError: \(error)")
            }
        }
        expectError(Array(good.dropLast(2)), ["truncated", "token 3", "tokenizer.bin"])
        expectError(good, vocabularySize: 5, ["token 4", "fewer tokens"])
        expectError(good + [0], ["1 bytes follow"])
        expectError(Self.file([(0, Array("<unk>".utf8)), (.nan, [])]), vocabularySize: 2, ["NaN", "token 1"])
        var negative = Self.file([(0, Array("<unk>".utf8))])
        negative.replaceSubrange(8..<12, with: withUnsafeBytes(of: Int32(-5).littleEndian, Array.init))
        expectError(negative, vocabularySize: 1, ["-5 bytes", "token 0"])
        expectError(good, vocabularySize: 1 << 30, ["vocab_size"])
        expectError([1, 0], vocabularySize: 1, ["truncated", "max_token_length"])
    }
}
