import Foundation
import KilnRuntime
import Testing
import TestSupport

/// llama.cpp's golden tokenizer vectors (`models/ggml-vocab-*.gguf.inp` / `.out`, made with the
/// models' own HF tokenizers), checked the way its `tests/test-tokenizer-0.cpp` checks them:
/// inputs split on `"\n__ggml_vocab_test__\n"`, each output line trimmed and split on spaces,
/// tokenized with no BOS/EOS (`add_special = false`) and special-token text taken as text
/// (`parse_special = false`).
struct TokenizerVectorTests {
    @Test(.enabled(if: !TokenizerFiles.skipRealModel, "KILN_SKIP_REAL_MODEL=1"),
          arguments: ["gpt-2", "starcoder", "llama-bpe", "qwen2", "llama-spm"])
    func llamaCppVectors(vocabulary name: String) throws {
        guard let path = TokenizerFiles.require(TokenizerFiles.vocabulary(name), script: "Tools/fetch-vocab-tests.sh"),
              let inputs = TokenizerFiles.require(path + ".inp", script: "Tools/fetch-vocab-tests.sh"),
              let outputs = TokenizerFiles.require(path + ".out", script: "Tools/fetch-vocab-tests.sh")
        else { return }
        let tokenizer = try TokenizerFiles.tokenizer(gguf: path)
        #expect(tokenizer.warnings.isEmpty, "\(tokenizer.warnings)")

        let cases = try Self.readCases(inputs: inputs, outputs: outputs)
        #expect(cases.count > 30)
        var failures: [String] = []
        for (text, expected) in cases {
            let ids = tokenizer.encode(text, parseSpecial: false)
            if ids != expected { failures.append("\(text.debugDescription): got \(ids), want \(expected)") }
            #expect(Array(tokenizer.decode(ids).utf8) == Array(text.utf8), "round trip of \(text.debugDescription)")
        }
        let passed = cases.count - failures.count
        print("llama.cpp vectors, \(name): \(passed)/\(cases.count) passed")
        #expect(failures.isEmpty, Comment(rawValue: "\(name): \(passed)/\(cases.count) passed\n" + failures.joined(separator: "\n")))
    }

    static func readCases(inputs: String, outputs: String) throws -> [(String, [Int])] {
        // Bytes, not Strings: a String search works on characters, and "\r\n" is one character.
        let texts = splitBytes(try readFile(inputs), on: Array("\n__ggml_vocab_test__\n".utf8))
        let lines = splitBytes(try readFile(outputs), on: [0x0A])
        try #require(texts.count == lines.count, "\(texts.count) inputs but \(lines.count) outputs")
        return try zip(texts, lines).map { text, line in
            let ids = try line.split(separator: 0x20).map { try #require(Int(String(decoding: $0, as: UTF8.self)), "bad id") }
            return (String(decoding: text, as: UTF8.self), ids)
        }
    }

    /// Parts of `bytes` between separators, as test-tokenizer-0.cpp and `getline` cut them: a
    /// separator at the very end adds no empty part.
    static func splitBytes(_ bytes: [UInt8], on separator: [UInt8]) -> [ArraySlice<UInt8>] {
        var parts: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i + separator.count <= bytes.count {
            if bytes[i..<(i + separator.count)].elementsEqual(separator) {
                parts.append(bytes[start..<i])
                i += separator.count
                start = i
            } else {
                i += 1
            }
        }
        if start < bytes.count { parts.append(bytes[start...]) }
        return parts
    }
}
