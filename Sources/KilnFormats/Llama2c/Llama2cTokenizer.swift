import Foundation
import KilnCore

/// llama2.c's `tokenizer.bin` (written by its `tokenizer.py`, read by `run.c`'s
/// `build_tokenizer`): int32 `max_token_length`, then for each of the checkpoint's `vocab_size`
/// tokens a float32 score, an int32 byte length and the bytes. The vocabulary is Llama 2's
/// SentencePiece layout: `<unk>`, `<s>`, `</s>` at ids 0–2, byte tokens `<0xNN>`, and pieces
/// with spaces written as spaces (run.c merges by score and adds BOS = 1 and a leading space).
package enum Llama2cTokenizer {
    /// The name run.c looks for by default, beside the checkpoint here.
    package static let fileName = "tokenizer.bin"

    /// The tokenizer in `path` for a checkpoint of `vocabularySize` tokens.
    ///
    /// - Throws: ``/KilnCore/KilnError`` (`.malformed`, naming the file, token and offset) when the
    ///   file is truncated, a length is negative or too long, a score is NaN, or bytes follow the
    ///   last token.
    package static func read(path: String, vocabularySize: Int) throws -> TokenizerSpec {
        let mapping = try MappedFile(path: path)
        return try withFileContext(path) {
            try withExtendedLifetime(mapping) { try parse(mapping.bytes, vocabularySize: vocabularySize) }
        }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, vocabularySize: Int) throws -> TokenizerSpec {
        guard (1...TokenizerSpec.maxTokens).contains(vocabularySize) else {
            throw KilnError(.unsupported, "the checkpoint's vocab_size is \(vocabularySize); Kiln reads 1 to \(TokenizerSpec.maxTokens) tokens")
        }
        var reader = ByteReader(bytes)
        let maxLength = Int(try reader.read(Int32.self, "max_token_length"))
        guard (0...TokenizerSpec.maxTokenBytes).contains(maxLength) else {
            throw KilnError.malformed("max_token_length is \(maxLength); expected 0 to \(TokenizerSpec.maxTokenBytes)", at: 0, "max_token_length")
        }
        var tokens: [String] = [], scores: [Float] = [], kinds: [TokenizerSpec.TokenKind] = []
        tokens.reserveCapacity(vocabularySize)
        for id in 0..<vocabularySize {
            let offset = reader.fileOffset
            let score = Float(bitPattern: try reader.read(UInt32.self, "score of token \(id) (file holds fewer tokens than the checkpoint's vocab_size \(vocabularySize)?)"))
            guard !score.isNaN else { throw KilnError.malformed("the score of token \(id) is NaN", at: offset, "token \(id)") }
            let length = Int(try reader.read(Int32.self, "length of token \(id)"))
            guard (0...TokenizerSpec.maxTokenBytes).contains(length) else {
                throw KilnError.malformed("token \(id) is \(length) bytes long; expected 0 to \(TokenizerSpec.maxTokenBytes)",
                                          at: reader.fileOffset - 4, "token \(id)")
            }
            let piece = String(decoding: try reader.readBytes(length, "bytes of token \(id)"), as: UTF8.self)
            // Spaces back to SentencePiece's `▁`, the spelling the tokenizer works in.
            let token = piece.replacingOccurrences(of: " ", with: "\u{2581}")
            tokens.append(token)
            scores.append(score)
            kinds.append(kind(id: id, token: token))
        }
        guard reader.isAtEnd else {
            throw KilnError.malformed("\(reader.remaining) bytes follow the last of \(vocabularySize) tokens (a tokenizer for another vocabulary?)",
                                      at: reader.fileOffset, "end of file")
        }
        return TokenizerSpec(model: "llama", pre: "default", tokens: tokens, merges: [], kinds: kinds,
                             bosID: vocabularySize > 1 ? 1 : nil, eosID: vocabularySize > 2 ? 2 : nil, unknownID: 0,
                             addBOS: true, scores: scores, addSpacePrefix: true)
    }

    /// run.c's fixed ids: 0 unknown, 1 BOS, 2 EOS; `<0xNN>` tokens are bytes.
    private static func kind(id: Int, token: String) -> TokenizerSpec.TokenKind {
        switch id {
        case 0: .unknown
        case 1, 2: .control
        default: SentencePieceShape.isByteToken(token) ? .byte : .normal
        }
    }

    /// The tokenizer beside the checkpoint at `checkpoint` (`tokenizer.bin` in its directory),
    /// or nil when there is none, or nil with a warning when it does not fit.
    static func beside(_ checkpoint: String, vocabularySize: Int, warnings: inout [String]) -> TokenizerSpec? {
        let path = URL(fileURLWithPath: checkpoint).deletingLastPathComponent().appendingPathComponent(fileName).path
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try read(path: path, vocabularySize: vocabularySize)
        } catch {
            warnings.append("\(path) is not this checkpoint's tokenizer: \(error)")
            return nil
        }
    }
}
