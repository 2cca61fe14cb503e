import Foundation
import KilnChatTemplates
import KilnCore
import KilnFormats
import Testing
import TestSupport

/// The public surface: errors with positions, `raise_exception`, the variables a template
/// sees, JSON inputs, the ChatML fallback, the real model's template, concurrency.
struct ChatTemplateAPITests {
    static let conversation = [
        ChatMessage(role: "system", content: "Be brief."),
        ChatMessage(role: "user", content: "Hi!"),
    ]

    static func render(_ source: String, _ messages: [ChatMessage] = conversation, generation: Bool = false,
                       extra: [String: TemplateValue] = [:]) throws -> String
    {
        try ChatTemplate(source).render(messages: messages, addGenerationPrompt: generation, bosToken: "<s>", eosToken: "</s>", extra: extra)
    }

    static func syntaxError(_ source: String) throws -> ChatTemplateError {
        let error = try #require(throws: ChatTemplateError.self) { try ChatTemplate(source) }
        #expect(error.kind == .syntax, "\(source.debugDescription): \(error)")
        return error
    }

    // MARK: Errors

    @Test func syntaxErrorsNameLineAndColumn() throws {
        var error = try Self.syntaxError("Hello\n{% for m in messages %}\n  {{ m.content | strip }}\n{% endfor %}")
        #expect((error.line, error.column) == (3, 18))
        #expect(error.message == "no filter named 'strip'")
        #expect(error.description == "chat template line 3, column 18: syntax error: no filter named 'strip'")

        error = try Self.syntaxError("{% if true %}\nnever closed")
        #expect(error.line == 1)
        #expect(error.message.contains("'endif'"))

        error = try Self.syntaxError("ab\ncdé {% frobnicate %}")
        #expect((error.line, error.column) == (2, 8))
        #expect(error.message == "unknown tag 'frobnicate'")

        error = try Self.syntaxError("{{ 'unterminated }}")
        #expect((error.line, error.column) == (1, 4))

        error = try Self.syntaxError("{{ x is nonsense }}")
        #expect(error.message == "no test named 'nonsense'")

        error = try Self.syntaxError("{# never closed")
        #expect(error.message == "missing end of comment tag")

        error = try Self.syntaxError("{% for x in [1] %}{% endif %}")
        #expect(error.message == "unknown tag 'endif': the innermost open block is 'for', which needs 'else' or 'endfor'")

        _ = try Self.syntaxError("{% break %}")
        _ = try Self.syntaxError("{{ 1 + }}")
        _ = try Self.syntaxError("{{ 99999999999999999999 }}")
        _ = try Self.syntaxError("{% include 'other.jinja' %}")
    }

    @Test func raiseExceptionCarriesTheTemplatesMessage() throws {
        let mistral = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{{ message['content'] }}{% endfor %}"
        let error = try #require(throws: ChatTemplateError.self) {
            try Self.render(mistral, [ChatMessage(role: "user", content: "a"), ChatMessage(role: "user", content: "b")])
        }
        #expect(error.kind == .raised)
        #expect(error.message == "Conversation roles must alternate user/assistant/user/assistant/...")
        #expect(error.line == 1)
        #expect(error.description.hasSuffix("the template raised an exception: Conversation roles must alternate user/assistant/user/assistant/..."))
        #expect(try Self.render(mistral, [ChatMessage(role: "user", content: "a")]) == "<s>a")
    }

    @Test func renderErrorsNameTheLine() throws {
        let error = try #require(throws: ChatTemplateError.self) { try Self.render("{{ 'fine' }}\n\n{{ 'a' + 1 }}") }
        #expect(error.kind == .render)
        #expect(error.line == 3)
        #expect(error.message == "can only concatenate str (not \"int\") to str")

        let undefined = try #require(throws: ChatTemplateError.self) { try Self.render("{{ messages[0].missing.deeper }}") }
        #expect(undefined.kind == .render)
        #expect(undefined.message == "'dict object' has no attribute 'missing'")
    }

    // MARK: Variables

    @Test func variablesTheTemplateSees() throws {
        #expect(try Self.render("{{ messages | length }}{{ messages[1].role }}{{ messages[0]['content'] }}") == "2userBe brief.")
        #expect(try Self.render("{{ add_generation_prompt }}", generation: true) == "True")
        #expect(try Self.render("{{ bos_token }}|{{ eos_token }}") == "<s>|</s>")
        // transformers passes tools and documents as None when not given.
        #expect(try Self.render("{{ tools is none }}{{ documents is none }}{{ tools is defined }}") == "TrueTrueTrue")
        #expect(try Self.render("{{ tools | length }}", extra: ["tools": [["type": "function"]]]) == "1")
        #expect(try Self.render("{{ enable_thinking is defined }}{{ custom }}", extra: ["custom": 1.5]) == "False1.5")
        // The arguments win over `extra`.
        #expect(try Self.render("{{ messages | length }}{{ bos_token }}", extra: ["messages": [], "bos_token": "x"]) == "2<s>")
    }

    @Test func toolsFromJSONKeepTheirKeyOrder() throws {
        let tools = try TemplateValue(json: #"[{"type": "function", "function": {"name": "f", "description": "Zürich \u00e9 \ud83d\ude00", "parameters": {"z": 1, "a": [true, null, 2.5, -3]}}}]"#)
        let output = try Self.render("{{ tools | tojson }}", extra: ["tools": tools])
        #expect(output == #"[{"type": "function", "function": {"name": "f", "description": "Zürich é 😀", "parameters": {"z": 1, "a": [true, null, 2.5, -3]}}}]"#)
        #expect(throws: ChatTemplateError.self) { try TemplateValue(json: "{\"a\": }") }
        #expect(throws: ChatTemplateError.self) { try TemplateValue(json: "[1, 2") }
        #expect(try TemplateValue(json: " 12 ") == .int(12))
        #expect(try TemplateValue(json: "1e3") == .double(1000))
        let literal: TemplateValue = ["b": 1, "a": ["x", nil, true]]
        #expect(try Self.render("{{ v | tojson }}", extra: ["v": literal]) == #"{"b": 1, "a": ["x", null, true]}"#)
    }

    @Test func strftimeNowReadsTheClock() throws {
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        let output = try Self.render("{{ strftime_now('%Y') }}")
        // Allow for the year changing between the two readings.
        #expect([String(year), String(year + 1)].contains(output))
    }

    // MARK: Fallback and the real model

    @Test func chatMLFallbackIsTheStandardTemplate() throws {
        let json = try readJSON(Repository.fixture("expected/chat_templates.json"))
        #expect(ChatTemplate.chatML.source == json["templates"]?["chatml"]?["chat_template"]?.stringValue)
        let output = try ChatTemplate.chatML.render(messages: Self.conversation, addGenerationPrompt: true, bosToken: "", eosToken: "")
        #expect(output == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n")
    }

    /// The template and special tokens Kiln reads from SmolLM2's GGUF are the ones transformers
    /// used for the fixture, and render its cases.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["KILN_SKIP_REAL_MODEL"] != "1", "KILN_SKIP_REAL_MODEL=1"))
    func smolLM2TemplateFromTheGGUF() throws {
        let path = Repository.path(".models/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("\(path) is missing: run Tools/fetch-smollm2.sh (or set KILN_SKIP_REAL_MODEL=1 to skip)")
            return
        }
        let tokenizer = try #require(try TokenizerSpec(gguf: try GGUFFile(path: path).metadata))
        let source = try #require(tokenizer.chatTemplate)
        let bos = tokenizer.tokens[try #require(tokenizer.bosID)]
        let eos = tokenizer.tokens[try #require(tokenizer.eosID)]
        let json = try readJSON(Repository.fixture("expected/chat_templates.json"))
        let reference = try #require(json["templates"]?["smollm2"])
        #expect(source == reference["chat_template"]?.stringValue)
        #expect(bos == reference["bos_token"]?.stringValue)
        #expect(eos == reference["eos_token"]?.stringValue)

        let template = try ChatTemplate(source)
        let fixture = try ChatTemplateFixtureTests.loadFixture()
        var checked = 0
        for testCase in fixture.cases where testCase["template"]?.stringValue == "smollm2" {
            let conversation = try #require(testCase["conversation"]?.stringValue)
            let messages = try #require(fixture.conversations[conversation])
            let generation = testCase["add_generation_prompt"]?.boolValue == true
            let result = Result { try template.render(messages: messages, addGenerationPrompt: generation, bosToken: bos, eosToken: eos) }
            #expect(ChatTemplateFixtureTests.compare(result, testCase) == nil)
            checked += 1
        }
        #expect(checked == 16)
    }

    // MARK: Concurrency

    @Test func oneTemplateRendersConcurrently() async throws {
        let template = try ChatTemplate("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}")
        let outputs = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<16 {
                group.addTask {
                    (i, try template.render(messages: [ChatMessage(role: "user", content: String(i))], addGenerationPrompt: false,
                                            bosToken: "", eosToken: ""))
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for i in 0..<16 { #expect(outputs[i] == "user:\(i);") }
    }
}
