import Foundation
@testable import KilnFormats
import KilnRuntime
import Testing
import TestSupport

/// The tokenizer files `--layout hf` writes (tokenizer.json, tokenizer_config.json,
/// generation_config.json), for every pre-tokenizer family Kiln knows: Kiln reads them back to
/// the same tokenizer, and Hugging Face's own libraries (`tokenizers`, transformers'
/// AutoTokenizer, via Tools/check_hf_tokenizer.py) encode, decode and render chats exactly as
/// Kiln does on llama.cpp's tokenizer test inputs plus special-token, digit and Unicode text.
struct HuggingFaceTokenizerExportTests {
    /// llama.cpp's test vocabularies and SmolLM2's; some with settings changed so that every
    /// branch of the files is written: BOS added (as Llama 3's own tokenizer does), EOS added,
    /// an end-of-turn token distinct from EOS.
    static let vocabularies = ["gpt-2", "starcoder", "llama-bpe", "qwen2", "smollm2"]
    static let hasTokenizers = pythonCanImport(["tokenizers"])

    static func spec(_ name: String) throws -> TokenizerSpec? {
        let path = name == "smollm2" ? TokenizerFiles.smolLM2 : TokenizerFiles.vocabulary(name)
        guard let file = TokenizerFiles.require(path, script: name == "smollm2" ? "Tools/fetch-smollm2.sh" : "Tools/fetch-vocab-tests.sh")
        else { return nil }
        var spec = try #require(try TokenizerSpec(gguf: try GGUFFile(path: file).metadata))
        switch name {
        case "llama-bpe": spec.addBOS = true
        case "gpt-2": spec.addEOS = true
        case "qwen2": spec.eotID = spec.tokens.firstIndex(of: "<|im_end|>")
        default: break
        }
        return spec
    }

    /// Writes the export's tokenizer files into `directory` and reads them back as Kiln's HF reader does.
    static func export(_ spec: TokenizerSpec, to directory: TemporaryDirectory) throws -> TokenizerSpec {
        for (name, contents) in HuggingFaceTokenizerExport.files(spec, contextLength: 4096) {
            try writeFile(directory.file(name), Array(contents.utf8))
        }
        return try #require(try HuggingFaceFiles.tokenizer(in: URL(fileURLWithPath: directory.path), config: .object([:])))
    }

    @Test(.enabled(if: !TokenizerFiles.skipRealModel, "KILN_SKIP_REAL_MODEL=1"), arguments: vocabularies)
    func kilnReadsItsExportBackToTheSameTokenizer(_ name: String) throws {
        guard let spec = try Self.spec(name) else { return }
        let directory = TemporaryDirectory()
        let reread = try Self.export(spec, to: directory)
        #expect(reread.tokens == spec.tokens)
        #expect(reread.merges == spec.merges)
        #expect(Self.addedKinds(reread) == Self.addedKinds(spec))
        #expect(PreTokenizerFamily(vocabularyName: reread.pre) == PreTokenizerFamily(vocabularyName: spec.pre), "\(reread.pre)")
        #expect(PreTokenizerFamily.ignoresMerges(vocabularyName: reread.pre) == PreTokenizerFamily.ignoresMerges(vocabularyName: spec.pre))
        #expect(reread.bosID == spec.bosID && reread.eosID == spec.eosID && reread.eotID == spec.eotID)
        #expect(reread.padID == spec.padID && reread.unknownID == spec.unknownID)
        #expect(reread.addBOS == spec.addBOS && reread.addEOS == spec.addEOS)
        #expect(reread.chatTemplate == spec.chatTemplate)

        let original = try BPETokenizer(spec), again = try BPETokenizer(reread)
        #expect(again.warnings.isEmpty, "\(again.warnings)")
        for text in try Self.texts(spec) {
            #expect(again.encode(text) == original.encode(text), "\(text.debugDescription)")
        }
    }

    @Test(.enabled(if: !TokenizerFiles.skipRealModel, "KILN_SKIP_REAL_MODEL=1"),
          .enabled(if: hasTokenizers, "python3 cannot import tokenizers (Tools/requirements-test.txt)"),
          arguments: vocabularies)
    func huggingFaceLibrariesAgreeWithKiln(_ name: String) throws {
        guard let spec = try Self.spec(name) else { return }
        let directory = TemporaryDirectory()
        _ = try Self.export(spec, to: directory)
        // Kiln's answers come from the source's tokenizer, not from the export read back: the
        // folder must make transformers behave as the model Kiln converted, not just as its files.
        let tokenizer = try BPETokenizer(spec)
        var cases: [JSONValue] = []
        for text in try Self.texts(spec) {
            let ids = tokenizer.encode(text)
            let prompt = (spec.addBOS ? spec.bosID.map { [$0] } ?? [] : []) + ids + (spec.addEOS ? spec.eosID.map { [$0] } ?? [] : [])
            cases.append(.object([
                "text": .string(text), "ids": Self.json(ids), "prompt_ids": Self.json(prompt),
                "decoded": .string(tokenizer.decode(ids)), "decoded_skip": .string(tokenizer.decode(ids, skipSpecial: true)),
            ]))
        }
        var special: [String: JSONValue] = [:]
        for (key, id) in [("bos_token_id", spec.bosID), ("eos_token_id", spec.eosID), ("pad_token_id", spec.padID),
                          ("unk_token_id", spec.unknownID)] {
            special[key] = id.map { .int(Int64($0)) } ?? .null
        }
        let expected: JSONValue = .object(["cases": .array(cases), "special": .object(special), "chats": .array(try Self.chats(spec))])
        let casesPath = directory.file("cases.json")
        try writeFile(casesPath, Array(expected.serialized().utf8))
        let check = try runPythonCheck("check_hf_tokenizer.py", [directory.path, casesPath])
        print(check.output)
        #expect(check.status == 0, "\(name): \(check.output)")
    }

    // MARK: Inputs

    /// llama.cpp's tokenizer test inputs (spaces, tabs, newlines, digits, accents, CJK, emoji,
    /// code), then text around the vocabulary's added tokens, and a few more.
    static func texts(_ spec: TokenizerSpec) throws -> [String] {
        let inputs = try readFile(TokenizerFiles.vocabulary("gpt-2") + ".inp")
        var texts = TokenizerVectorTests.splitBytes(inputs, on: Array("\n__ggml_vocab_test__\n".utf8))
            .map { String(decoding: $0, as: UTF8.self) }
        let added = spec.kinds.indices.filter { [.control, .userDefined, .unknown].contains(spec.kinds[$0]) }
        for id in added.prefix(3) + added.suffix(2) {
            texts.append("before\(spec.tokens[id])after \(spec.tokens[id]) 42")
        }
        if let bos = spec.bosID, let eos = spec.eosID {
            texts.append("\(spec.tokens[bos])user\nHi there!\(spec.tokens[eos])\n\(spec.tokens[bos])assistant\n")
        }
        texts += ["1234567890 3.14159 -42 1e10 ٣٤٥ ⅷ", "Ünïcödé: naïve café, Ελληνικά, русский, עברית, 😀👍🏽 👨‍👩‍👧",
                  "   leading and trailing   ", "\n\n\n", "can't won't I'M y'all", "", "\u{00A0}non-breaking\u{3000}ideographic space"]
        return texts
    }

    /// A few conversations through the vocabulary's chat template, rendered by Kiln.
    static func chats(_ spec: TokenizerSpec) throws -> [JSONValue] {
        guard let source = spec.chatTemplate else { return [] }
        let template = try ChatTemplate(source)
        let conversations: [[ChatMessage]] = [
            [ChatMessage(role: "user", content: "What is the capital of France?")],
            [ChatMessage(role: "system", content: "Answer briefly."), ChatMessage(role: "user", content: "2 + 2?"),
             ChatMessage(role: "assistant", content: "4"), ChatMessage(role: "user", content: "Und auf Deutsch? 🙂")],
        ]
        return try conversations.flatMap { messages in
            try [true, false].map { addGenerationPrompt in
                let rendered = try template.render(messages: messages, addGenerationPrompt: addGenerationPrompt,
                                                   bosToken: spec.bosID.map { spec.tokens[$0] } ?? "",
                                                   eosToken: spec.eosID.map { spec.tokens[$0] } ?? "")
                return .object([
                    "messages": .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) }),
                    "add_generation_prompt": .bool(addGenerationPrompt), "rendered": .string(rendered),
                ])
            }
        }
    }

    /// The token kinds HF files can tell apart: added special (control; unknown is written as
    /// special and read back as control), added not special (user-defined), and the rest.
    static func addedKinds(_ spec: TokenizerSpec) -> [Int: String] {
        var kinds: [Int: String] = [:]
        for (id, kind) in spec.kinds.enumerated() {
            switch kind {
            case .control, .unknown: kinds[id] = "special"
            case .userDefined: kinds[id] = "added"
            default: break
            }
        }
        return kinds
    }

    static func json(_ ids: [Int]) -> JSONValue { .array(ids.map { .int(Int64($0)) }) }
}
