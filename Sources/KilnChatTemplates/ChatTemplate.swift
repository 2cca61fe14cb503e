/// A chat template as models ship it (Hugging Face `tokenizer_config.json` `chat_template`,
/// GGUF `tokenizer.chat_template`): a Jinja2 program turning messages into the prompt text.
/// Rendering follows `transformers`' `apply_chat_template(..., tokenize=False)` exactly:
/// Jinja with `trim_blocks` and `lstrip_blocks`, transformers' `tojson` and
/// `raise_exception`, Python semantics for values, operators and string methods.
///
/// The interpreter is Kiln's own, small and sandboxed: a template can only compute with the
/// values it is given, and every render is bounded by `Limits` (a template comes from a model
/// file, so it may be hostile).
///
/// Why Kiln's own and not a package: of the template engines Kiln may depend on, Stencil is
/// Django-flavoured (no Python methods on values such as `.strip()` or slicing, no `namespace`
/// or `raise_exception`, not Python's operator semantics) and swift-mustache is Mustache;
/// neither renders real models' templates byte-for-byte as transformers does, which every case
/// of Fixtures/expected/chat_templates.json checks here.
public struct ChatTemplate: Sendable {
    /// Bounds on one render. The defaults are far above what real templates need.
    public struct Limits: Sendable, Equatable {
        /// The rendered text and any single string built along the way.
        public var maxOutputBytes = 16 << 20
        /// `for` iterations over the whole render; also the longest list that can be built.
        public var maxLoopIterations = 1_000_000
        /// Evaluated statements and expressions: a bound on time that does not depend on the clock.
        public var maxSteps = 5_000_000
        /// Bytes of strings built or scanned: a bound on time for string-heavy loops.
        public var maxWorkBytes = 256 << 20
        /// Nested macro calls (recursion).
        public var maxCallDepth = 32

        /// The default limits.
        public init() {}
    }

    /// The template text as given.
    public let source: String
    /// The bounds every render of this template runs under.
    public let limits: Limits
    private let nodes: [Node]
    private let scalars: [Unicode.Scalar]

    /// Parses once; a syntax error (or an unknown filter, test or tag) names its line and column.
    public init(_ source: String) throws {
        try self.init(source, limits: Limits())
    }

    /// Parses once, with `limits` for every later render instead of the defaults.
    public init(_ source: String, limits: Limits) throws {
        self.source = source
        self.limits = limits
        (nodes, scalars) = try LargeStack.run { try TemplateParser.parse(source) }
    }

    /// The prompt for `messages`. `bosToken` and `eosToken` are the tokenizer's special-token
    /// strings (`bos_token`, `eos_token` in the template); `addGenerationPrompt` asks for the
    /// opening of the assistant's turn. `extra` adds variables (`tools`, `documents`,
    /// `date_string`, `enable_thinking`, …); `tools` and `documents` are `none` unless given,
    /// as transformers passes them.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
                       extra: [String: TemplateValue] = [:]) throws -> String
    {
        try LargeStack.run { [self] in
            try renderHere(messages: messages, addGenerationPrompt: addGenerationPrompt, bosToken: bosToken, eosToken: eosToken, extra: extra)
        }
    }

    private func renderHere(messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
                            extra: [String: TemplateValue]) throws -> String
    {
        var context: [String: Value] = ["tools": .none, "documents": .none]
        for (name, value) in extra { context[name] = Value(value) }
        context["messages"] = .list(messages.map { message in
            var dict = ValueDict()
            dict["role"] = .string(message.role)
            dict["content"] = .string(message.content)
            return .dict(dict)
        })
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        context["bos_token"] = .string(bosToken)
        context["eos_token"] = .string(eosToken)
        for value in context.values where value.depth > Interpreter.maxValueDepth {
            throw ChatTemplateError(.limit, "values nested deeper than \(Interpreter.maxValueDepth) levels")
        }
        return try Interpreter(limits: limits, source: scalars).render(nodes, context: context)
    }

    /// ChatML (`<|im_start|>role\ncontent<|im_end|>\n`), the common fallback when a model ships
    /// no template; the template text transformers used as its default.
    public static let chatML: ChatTemplate = {
        // Newlines inside the quotes are real newlines, as in the tokenizer_config.json files
        // that ship it (their JSON "\n").
        let text = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
        // The text is a constant checked by the tests; parsing it cannot fail.
        return try! ChatTemplate(text)
    }()
}
