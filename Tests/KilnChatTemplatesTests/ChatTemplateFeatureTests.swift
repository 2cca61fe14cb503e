import KilnChatTemplates
import KilnCore
import Testing
import TestSupport

/// The `features` of Fixtures/expected/chat_templates.json: small templates probing one Jinja
/// behaviour each (whitespace control, scoping, values, operators, filters, tests, methods,
/// macros, undefined values, errors), rendered by transformers.
struct ChatTemplateFeatureTests {
    @Test func behavesAsTransformers() throws {
        let json = try readJSON(Repository.fixture("expected/chat_templates.json"))
        let features = try #require(json["features"]?.arrayValue)
        #expect(features.count >= 100)
        var variables: [String: TemplateValue] = [:]
        if case .object(let object) = try TemplateValue(json: try #require(json["feature_variables_json"]?.stringValue)) {
            for (key, value) in object.pairs { variables[key] = value }
        }
        let messages = try #require(json["conversations"]?["system-multi-turn"]?.arrayValue).map { pair in
            let fields = try #require(pair.arrayValue)
            return ChatMessage(role: try #require(fields[0].stringValue), content: try #require(fields[1].stringValue))
        }
        for feature in features {
            let source = try #require(feature["template"]?.stringValue)
            let result = Result {
                try ChatTemplate(source).render(messages: messages, addGenerationPrompt: false, bosToken: "<s>", eosToken: "</s>",
                                                extra: variables)
            }
            if let problem = Self.compare(result, feature) { Issue.record("\(source.debugDescription): \(problem)") }
        }
    }

    static func compare(_ result: Result<String, any Error>, _ feature: JSONValue) -> String? {
        if let expected = feature["error"]?["type"]?.stringValue {
            // Jinja refuses these when compiling; Kiln when parsing.
            let syntax = ["TemplateSyntaxError", "TemplateAssertionError", "SyntaxError"].contains(expected)
            if case .failure(let error as ChatTemplateError) = result, error.kind == (syntax ? .syntax : .render) { return nil }
        }
        return ChatTemplateFixtureTests.compare(result, feature)
    }
}
