import Foundation
import KilnChatTemplates
import KilnCore
import Testing
import TestSupport

/// Every case of Fixtures/expected/chat_templates.json (Tools/make_chat_template_expected.py):
/// 147 real templates rendered by transformers, compared character for character, and the
/// errors they raise (raise_exception messages exactly).
struct ChatTemplateFixtureTests {
    struct Fixture {
        let templates: [String: (template: String, bos: String, eos: String)]
        let conversations: [String: [ChatMessage]]
        let cases: [JSONValue]
    }

    static func loadFixture() throws -> Fixture {
        let json = try readJSON(Repository.fixture("expected/chat_templates.json"))
        var templates: [String: (String, String, String)] = [:]
        for (id, entry) in try #require(json["templates"]?.objectValue) {
            templates[id] = (try #require(entry["chat_template"]?.stringValue), try #require(entry["bos_token"]?.stringValue),
                             try #require(entry["eos_token"]?.stringValue))
        }
        var conversations: [String: [ChatMessage]] = [:]
        for (name, messages) in try #require(json["conversations"]?.objectValue) {
            conversations[name] = try #require(messages.arrayValue).map { pair in
                let fields = try #require(pair.arrayValue)
                return ChatMessage(role: try #require(fields[0].stringValue), content: try #require(fields[1].stringValue))
            }
        }
        return Fixture(templates: templates, conversations: conversations, cases: try #require(json["cases"]?.arrayValue))
    }

    @Test func rendersExactlyAsTransformers() throws {
        let fixture = try Self.loadFixture()
        #expect(fixture.templates.count >= 140)
        #expect(fixture.cases.count >= 600)
        var parsed: [String: ChatTemplate] = [:]
        for (id, entry) in fixture.templates {
            do {
                parsed[id] = try ChatTemplate(entry.template)
            } catch {
                Issue.record("\(id): \(error)")
            }
        }
        var failures = 0
        var compared = 0
        for testCase in fixture.cases {
            let id = try #require(testCase["template"]?.stringValue)
            let conversation = try #require(testCase["conversation"]?.stringValue)
            let generation = testCase["add_generation_prompt"]?.boolValue == true
            let name = "\(id) / \(conversation) / add_generation_prompt=\(generation)"
            guard let template = parsed[id], let entry = fixture.templates[id] else { continue }
            var extra: [String: TemplateValue] = [:]
            if let text = testCase["extra_json"]?.stringValue, case .object(let object) = try TemplateValue(json: text) {
                for (key, value) in object.pairs { extra[key] = value }
            }
            let result = Result {
                try template.render(messages: try #require(fixture.conversations[conversation]), addGenerationPrompt: generation,
                                    bosToken: entry.bos, eosToken: entry.eos, extra: extra)
            }
            compared += 1
            let problem = Self.compare(result, testCase)
            if let problem {
                failures += 1
                if failures <= 25 { Issue.record("\(name): \(problem)") }
            }
        }
        if failures > 25 { Issue.record("\(failures) cases differ in all") }
        #expect(compared == fixture.cases.count)
    }

    /// Nil when `result` is what the fixture expects, else what differs.
    static func compare(_ result: Result<String, any Error>, _ testCase: JSONValue) -> String? {
        switch (result, testCase["expected"]?.stringValue, testCase["error"]) {
        case (.success(let text), let expected?, _):
            return text == expected ? nil : "output differs " + difference(text, expected)
        case (.failure(let error), let expected?, _):
            return "failed (\(error)) where transformers renders \(expected.debugDescription.prefix(200))"
        case (.success(let text), nil, let error?):
            return "rendered \(text.debugDescription.prefix(200)) where transformers fails with \(error)"
        case (.failure(let error), nil, let expected?):
            guard let error = error as? ChatTemplateError else { return "unexpected error type \(error)" }
            if let message = expected["raised"]?.stringValue {
                return error.kind == .raised && error.message == message ? nil : "error \(error), expected raise_exception(\(message.debugDescription))"
            }
            // Jinja's UndefinedError / TypeError: a render error (messages are Python's and may differ).
            return error.kind == .render ? nil : "error \(error), expected \(expected)"
        default:
            return "malformed fixture case"
        }
    }

    static func difference(_ a: String, _ b: String) -> String {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        var i = 0
        while i < min(x.count, y.count), x[i] == y[i] { i += 1 }
        func around(_ s: [Unicode.Scalar]) -> String {
            String(String.UnicodeScalarView(s[max(0, i - 40)..<min(s.count, i + 40)])).debugDescription
        }
        return "at character \(i): got \(around(x)), transformers \(around(y))"
    }
}
