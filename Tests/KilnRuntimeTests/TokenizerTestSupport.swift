import Foundation
import KilnRuntime
import Testing
import TestSupport

/// Real vocabularies for the tokenizer tests, and a tiny synthetic one that needs no files.
enum TokenizerFiles {
    static let skipRealModel = ProcessInfo.processInfo.environment["KILN_SKIP_REAL_MODEL"] == "1"
    static let smolLM2 = Repository.path(".models/SmolLM2-135M-Instruct.Q4_1.gguf")

    static func vocabulary(_ name: String) -> String {
        Repository.path(".models/vocab/ggml-vocab-\(name).gguf")
    }

    /// The file, or nil after recording an issue that names the script that downloads it.
    static func require(_ path: String, script: String) -> String? {
        if FileManager.default.fileExists(atPath: path) { return path }
        Issue.record("\(path) is missing: run \(script) (or set KILN_SKIP_REAL_MODEL=1 to skip)")
        return nil
    }

    /// A tokenizer read from a GGUF file's metadata, as the runtime will get it.
    static func tokenizer(gguf path: String) throws -> BPETokenizer {
        let file = try GGUFFile(path: path)
        let spec = try #require(try TokenizerSpec(gguf: file.metadata), "\(path) has no tokenizer")
        return try BPETokenizer(spec)
    }

    /// SmolLM2's tokenizer, loaded once for all tests (nil when the model is missing).
    static let smolLM2Tokenizer: BPETokenizer? = {
        guard FileManager.default.fileExists(atPath: smolLM2) else { return nil }
        return try? tokenizer(gguf: smolLM2)
    }()
}

/// A byte-level vocabulary small enough to reason about: the 256 byte tokens (ids 0–255, in
/// byte order), then the tokens of `merges` in order, then `added` tokens.
func syntheticTokenizer(merges: [String] = [], pre: String = "gpt-2",
                        added: [(String, TokenizerSpec.TokenKind)] = []) throws -> BPETokenizer {
    var tokens = (0...255).map { byteSpelling(UInt8($0)) }
    for rule in merges where !tokens.contains(rule.replacingOccurrences(of: " ", with: "")) {
        tokens.append(rule.replacingOccurrences(of: " ", with: ""))
    }
    var kinds = Array(repeating: TokenizerSpec.TokenKind.normal, count: tokens.count)
    for (text, kind) in added {
        tokens.append(text)
        kinds.append(kind)
    }
    return try BPETokenizer(TokenizerSpec(model: "gpt2", pre: pre, tokens: tokens, merges: merges, kinds: kinds))
}

/// GPT-2's spelling of one byte (formats.md §8), written out independently of the runtime's table.
func byteSpelling(_ byte: UInt8) -> String {
    let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    if printable { return String(Unicode.Scalar(byte)) }
    let rank = (0..<Int(byte)).filter { b in
        !((0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b))
    }.count
    return String(Unicode.Scalar(UInt32(256 + rank))!)
}
