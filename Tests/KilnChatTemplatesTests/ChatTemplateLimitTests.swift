import Foundation
import KilnChatTemplates
import Testing

/// Hostile templates (a chat template comes from a model file): each is refused or stopped
/// by a limit, quickly, without exhausting memory or the stack. Run on a thread with a
/// 512 KiB stack, the size of a secondary thread on macOS, so deep nesting is shown safe there.
struct ChatTemplateLimitTests {
    static let messages = [ChatMessage(role: "user", content: "hi")]

    /// Renders on a 512 KiB-stack thread and returns the error kind (nil on success) and time.
    static func outcome(_ source: String, limits: ChatTemplate.Limits = .init()) -> (ChatTemplateError.Kind?, Duration, String) {
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let start = ContinuousClock.now
            do {
                let output = try ChatTemplate(source, limits: limits)
                    .render(messages: messages, addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>")
                box.value = (nil, ContinuousClock.now - start, output)
            } catch let error as ChatTemplateError {
                box.value = (error.kind, ContinuousClock.now - start, error.description)
            } catch {
                box.value = (nil, ContinuousClock.now - start, "unexpected \(error)")
            }
            done.signal()
        }
        thread.stackSize = 512 << 10
        thread.start()
        done.wait()
        return box.value!
    }

    final class ResultBox: @unchecked Sendable {
        var value: (ChatTemplateError.Kind?, Duration, String)?
    }

    static let hostile: [(name: String, source: String, kind: ChatTemplateError.Kind)] = [
        ("nested loops of 10^6 × 10^6", "{% for a in range(1000000) %}{% for b in range(1000000) %}{% endfor %}{% endfor %}", .limit),
        ("a range of 10^18", "{{ range(10**18) | length }}", .limit),
        ("a string of 10^12 bytes", "{{ 'a' * 1000000000000 }}", .limit),
        ("a list of 10^9 items", "{{ ([1] * 1000000000) | length }}", .limit),
        ("a doubling string", "{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}", .limit),
        ("a replace that explodes", "{{ ('a' * 1000000).replace('a', 'a' * 1000) }}", .limit),
        ("100 MB of output", "{% for i in range(1000000) %}{{ 'x' * 100 }}{% endfor %}", .limit),
        ("rescanning a big string", "{% set s = 'a' * 1000000 %}{% for i in range(100000) %}{% if 'b' in s %}{% endif %}{% endfor %}", .limit),
        ("quadratic concatenation", "{% set ns = namespace(s='') %}{% for i in range(1000000) %}{% set ns.s = ns.s ~ 'xxxxxxxxxx' %}{% endfor %}", .limit),
        ("endless macro recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", .limit),
        ("mutual macro recursion", "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}", .limit),
        ("values nested 10^5 deep", "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}", .limit),
        ("namespaces nested 10^5 deep", "{% set ns = namespace(x=none) %}{% for i in range(100000) %}{% set ns.x = namespace(inner=ns.x) %}{% endfor %}", .limit),
        ("dicts nested 10^5 deep", "{% set ns = namespace(x={}) %}{% for i in range(100000) %}{% set ns.x = {'k': ns.x} %}{% endfor %}", .limit),
        ("10^4 nested parentheses", "{{ " + String(repeating: "(", count: 10000) + "1" + String(repeating: ")", count: 10000) + " }}", .syntax),
        ("10^4 nested lists", "{{ " + String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000) + " }}", .syntax),
        ("10^4 nested ifs", String(repeating: "{% if true %}", count: 10000) + String(repeating: "{% endif %}", count: 10000), .syntax),
        ("10^4 nested fors", String(repeating: "{% for x in [1] %}", count: 10000) + String(repeating: "{% endfor %}", count: 10000), .syntax),
        ("10^4 unary minus", "{{ " + String(repeating: "-", count: 10000) + "1 }}", .syntax),
        ("10^4 nots", "{{ " + String(repeating: "not ", count: 10000) + "1 }}", .syntax),
        ("10^4 filters", "{{ 'a'" + String(repeating: " | upper", count: 10000) + " }}", .syntax),
        ("10^4 additions", "{{ 1" + String(repeating: " + 1", count: 10000) + " }}", .syntax),
        ("10^4 attributes", "{{ x" + String(repeating: ".a", count: 10000) + " }}", .syntax),
        ("10^6 steps of arithmetic", "{% for i in range(1000000) %}{% set x = i * 2 + 1 - 1 // 1 %}{% endfor %}", .limit),
    ]

    @Test(arguments: hostile.indices)
    func refusesOrCaps(_ index: Int) {
        let (name, source, kind) = Self.hostile[index]
        let (got, elapsed, message) = Self.outcome(source)
        #expect(got == kind, "\(name): \(message)")
        // Debug builds are slow; the bound is about not hanging, not speed.
        #expect(elapsed < .seconds(20), "\(name) took \(elapsed)")
    }

    /// Real templates stay far from the limits: 2,000 messages through a long template.
    @Test func longConversationsFitTheDefaults() throws {
        var messages: [ChatMessage] = [ChatMessage(role: "system", content: "Be brief.")]
        for i in 0..<1000 {
            messages.append(ChatMessage(role: "user", content: "Question \(i): " + String(repeating: "word ", count: 50)))
            messages.append(ChatMessage(role: "assistant", content: "Answer \(i)."))
        }
        let output = try ChatTemplate.chatML.render(messages: messages, addGenerationPrompt: true, bosToken: "", eosToken: "")
        #expect(output.hasSuffix("<|im_start|>assistant\n"))
        #expect(output.utf8.count > 300_000)
    }

    @Test func limitsAreConfigurable() throws {
        var limits = ChatTemplate.Limits()
        limits.maxOutputBytes = 10
        let template = try ChatTemplate("{{ 'x' * n }}", limits: limits)
        #expect(try template.render(messages: [], addGenerationPrompt: false, bosToken: "", eosToken: "", extra: ["n": 10]) == "xxxxxxxxxx")
        #expect(throws: ChatTemplateError.self) {
            try template.render(messages: [], addGenerationPrompt: false, bosToken: "", eosToken: "", extra: ["n": 11])
        }
        limits = ChatTemplate.Limits()
        limits.maxLoopIterations = 3
        let loop = try ChatTemplate("{% for m in messages %}.{% endfor %}", limits: limits)
        #expect(try loop.render(messages: Array(repeating: Self.messages[0], count: 3), addGenerationPrompt: false, bosToken: "", eosToken: "") == "...")
        let error = try #require(throws: ChatTemplateError.self) {
            try loop.render(messages: Array(repeating: Self.messages[0], count: 4), addGenerationPrompt: false, bosToken: "", eosToken: "")
        }
        #expect(error.kind == .limit)
        #expect(error.message.contains("loop iterations"))
    }

    @Test func aNamespaceHoldingItselfPrintsAndIsFreed() throws {
        let (kind, _, output) = Self.outcome("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns | string | length > 10 }}")
        #expect(kind == nil)
        #expect(output == "True")
        let (jsonKind, _, _) = Self.outcome("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns | tojson }}")
        #expect(jsonKind == .render)
    }

    @Test func hugeInputsAreRefused() throws {
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(String(repeating: "x", count: 5 << 20)) }
        #expect(throws: ChatTemplateError.self) {
            try TemplateValue(json: String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000))
        }
        var deep = TemplateValue.array([])
        for _ in 0..<200 { deep = .array([deep]) }
        let error = try #require(throws: ChatTemplateError.self) {
            try ChatTemplate("{{ v | length }}").render(messages: [], addGenerationPrompt: false, bosToken: "", eosToken: "", extra: ["v": deep])
        }
        #expect(error.kind == .limit)
    }
}
