/// A failure while rendering, before its position is attached.
enum RenderFailure: Error {
    /// Jinja's UndefinedError: an undefined value used as an object.
    case undefined(String)
    /// Python's TypeError (and Jinja's runtime errors).
    case type(String)
    /// Python's ValueError, ZeroDivisionError, OverflowError.
    case value(String)
    /// Refused by the sandbox (a mutating method, a private attribute).
    case security(String)
    /// `raise_exception(message)`.
    case raised(String)
    case limit(String)
}

/// Variables of one scope. Jinja scoping: a `for` body (each iteration), a macro call and
/// `with` get their own frame, so a `set` inside them is not seen after; `if` does not.
final class Frame {
    var variables: [String: Value] = [:]
    let parent: Frame?

    init(parent: Frame?) { self.parent = parent }

    func lookup(_ name: String) -> Value? {
        var frame: Frame? = self
        while let current = frame {
            if let value = current.variables[name] { return value }
            frame = current.parent
        }
        return nil
    }
}

/// What a statement asks of the loop around it.
enum Flow { case normal, breakLoop, continueLoop }

/// Runs a parsed template once. Counts every step, loop iteration, nested call and built
/// byte against `ChatTemplate.Limits`, so a template from a model file cannot hang or
/// exhaust memory.
final class Interpreter {
    /// Containers nest at most this deep: releasing, printing and comparing them recurses.
    static let maxValueDepth = 100
    /// Nested statements, expressions and macro calls at run time. The parser bounds each
    /// template's nesting, but macros can recurse. 160 levels take about 650 KiB of stack in a
    /// debug build (far less optimized), well inside the stack `ChatTemplate` renders on.
    static let maxRecursion = 160

    let limits: ChatTemplate.Limits
    let source: [Unicode.Scalar]
    /// Offset of the construct being evaluated, for the position of an error.
    var offset = 0
    private var steps = 0
    private var iterations = 0
    private var workBytes = 0
    var callDepth = 0
    private var recursion = 0
    private var output = ""
    /// Every namespace made, emptied at the end so that a namespace holding itself is freed.
    private var namespaces: [Namespace] = []

    init(limits: ChatTemplate.Limits, source: [Unicode.Scalar]) {
        self.limits = limits
        self.source = source
    }

    func render(_ nodes: [Node], context: [String: Value]) throws -> String {
        defer {
            for namespace in namespaces { namespace.attributes = ValueDict() }
            namespaces.removeAll()
        }
        let root = Frame(parent: nil)
        root.variables = context
        do {
            _ = try execute(nodes, in: root)
        } catch let failure as RenderFailure {
            throw error(failure)
        }
        return output
    }

    private func error(_ failure: RenderFailure) -> ChatTemplateError {
        let (line, column) = SourcePosition.lineAndColumn(of: offset, in: source)
        switch failure {
        case .raised(let message): return ChatTemplateError(.raised, message, line: line, column: column)
        case .limit(let message): return ChatTemplateError(.limit, message, line: line, column: column)
        case .undefined(let message), .type(let message), .value(let message), .security(let message):
            return ChatTemplateError(.render, message, line: line, column: column)
        }
    }

    // MARK: Limits

    @inline(__always) func step() throws {
        steps += 1
        if steps > limits.maxSteps { throw RenderFailure.limit("more than \(limits.maxSteps) evaluation steps") }
    }

    func countIterations(_ count: Int = 1) throws {
        iterations += count
        if iterations > limits.maxLoopIterations {
            throw RenderFailure.limit("more than \(limits.maxLoopIterations) loop iterations")
        }
    }

    /// Charges work proportional to bytes built or scanned (a bound on time), and refuses a
    /// single string over the output limit before it is built.
    func charge(bytes: Int) throws {
        guard bytes <= limits.maxOutputBytes else {
            throw RenderFailure.limit("a string of \(bytes) bytes is over the \(limits.maxOutputBytes)-byte limit")
        }
        try charge(work: bytes)
    }

    /// Charges bytes scanned (or compared) without building a string.
    func charge(work bytes: Int) throws {
        workBytes += bytes
        if workBytes > limits.maxWorkBytes {
            throw RenderFailure.limit("more than \(limits.maxWorkBytes) bytes of strings built or scanned")
        }
    }

    /// A list about to be built with `count` elements.
    func checkLength(_ count: Int) throws {
        guard count <= limits.maxLoopIterations else {
            throw RenderFailure.limit("a list of \(count) items is over the \(limits.maxLoopIterations)-item limit")
        }
        try countIterations(count / 16)
    }

    func checkDepth(_ value: Value) throws -> Value {
        guard value.depth <= Self.maxValueDepth else {
            throw RenderFailure.limit("values nested deeper than \(Self.maxValueDepth) levels")
        }
        return value
    }

    func makeNamespace() -> Namespace {
        let namespace = Namespace()
        namespaces.append(namespace)
        return namespace
    }

    func write(_ text: String) throws {
        let size = output.utf8.count + text.utf8.count
        guard size <= limits.maxOutputBytes else {
            throw RenderFailure.limit("the output is over \(limits.maxOutputBytes) bytes")
        }
        try charge(bytes: text.utf8.count)
        output += text
    }

    /// Renders `body` into a separate buffer (macros, `set` and `filter` blocks, `caller()`).
    func capture(_ body: () throws -> Void) throws -> String {
        let saved = output
        output = ""
        defer { output = saved }
        try body()
        return output
    }

    /// One level deeper into statements, expressions or macro calls; refused past
    /// `maxRecursion`. (No closure: in debug builds every frame on this path costs stack.)
    @inline(__always) func enter() throws {
        recursion += 1
        guard recursion <= Self.maxRecursion else {
            throw RenderFailure.limit("statements, expressions and macro calls nested deeper than \(Self.maxRecursion) levels")
        }
    }

    @inline(__always) func leave() { recursion -= 1 }

    // MARK: Statements

    func execute(_ nodes: [Node], in frame: Frame) throws -> Flow {
        try enter()
        defer { leave() }
        for node in nodes {
            try step()
            let flow = try execute(node, in: frame)
            if flow != .normal { return flow }
        }
        return .normal
    }

    /// One statement. As in `evaluate`, cases bind nothing here and each helper binds its
    /// own, to keep this recursive path's stack frames small in debug builds.
    private func execute(_ node: Node, in frame: Frame) throws -> Flow {
        switch node {
        case .text, .output, .filterBlock: try runOutput(node, in: frame)
        case .conditional: return try runConditional(node, in: frame)
        case .loop: try run(node, in: frame)
        case .set, .setBlock: try runSet(node, in: frame)
        case .macro, .callBlock: try runMacroStatement(node, in: frame)
        case .with: return try runWith(node, in: frame)
        case .breakLoop: return .breakLoop
        case .continueLoop: return .continueLoop
        }
        return .normal
    }

    private func runOutput(_ node: Node, in frame: Frame) throws {
        switch node {
        case .text(let text): try write(text)
        case .output(let expr): try write(PythonText.str(try evaluate(expr, frame)))
        case .filterBlock(let filters, let body): try write(PythonText.str(try renderFiltered(body, filters, in: frame)))
        default: break
        }
    }

    private func runMacroStatement(_ node: Node, in frame: Frame) throws {
        switch node {
        case .macro(let macro): frame.variables[macro.name] = .callable(makeMacro(macro, definedIn: frame))
        case .callBlock(let call, let parameters, let body): try runCallBlock(call, callerParameters: parameters, body: body, in: frame)
        default: break
        }
    }

    private func runConditional(_ node: Node, in frame: Frame) throws -> Flow {
        guard case .conditional(let branches, let otherwise) = node else { return .normal }
        for branch in branches where try evaluate(branch.test, frame).truthy {
            return try execute(branch.body, in: frame)
        }
        return try execute(otherwise, in: frame)
    }

    private func runSet(_ node: Node, in frame: Frame) throws {
        switch node {
        case .set(let target, let expr, let at):
            let value = try evaluate(expr, frame)
            offset = at
            try assign(target, value, in: frame)
        case .setBlock(let target, let filters, let body, let at):
            let value = try renderFiltered(body, filters, in: frame)
            offset = at
            try assign(target, value, in: frame)
        default:
            break
        }
    }

    private func renderFiltered(_ body: [Node], _ filters: [FilterCall], in frame: Frame) throws -> Value {
        var value = Value.string(try capture { _ = try execute(body, in: frame) })
        for filter in filters { value = try applyFilter(filter, to: value, frame) }
        return value
    }

    private func runWith(_ node: Node, in frame: Frame) throws -> Flow {
        guard case .with(let assignments, let body) = node else { return .normal }
        let inner = Frame(parent: frame)
        for (target, expr) in assignments { try assign(target, try evaluate(expr, frame), in: inner) }
        return try execute(body, in: inner)
    }

    private func run(_ node: Node, in frame: Frame) throws {
        guard case .loop(let loop) = node else { return }
        let iterable = try evaluate(loop.iterable, frame)
        offset = loop.offset
        var items = try iterate(iterable)
        if let condition = loop.condition {
            items = try items.filter { item in
                try countIterations()
                let scope = Frame(parent: frame)
                try assign(loop.target, item, in: scope)
                return try evaluate(condition, scope).truthy
            }
        }
        guard !items.isEmpty else {
            _ = try execute(loop.otherwise, in: frame)
            return
        }
        let context = LoopContext(items: items)
        for (index, item) in items.enumerated() {
            try countIterations()
            let scope = Frame(parent: frame)
            offset = loop.offset
            try assign(loop.target, item, in: scope)
            context.index0 = index
            scope.variables["loop"] = .loop(context)
            if try execute(loop.body, in: scope) == .breakLoop { break }
        }
    }

    /// What `for` walks: list items, string characters, dict keys; nothing for undefined.
    func iterate(_ value: Value) throws -> [Value] {
        switch value {
        case .list(let list):
            if let failure = list.pendingFailure { throw failure }
            return list.items
        case .dict(let dict): return dict.keys.map(Value.string)
        case .string(let s):
            try checkLength(s.unicodeScalars.count)
            return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .loop(let context): return context.items
        default: throw RenderFailure.type("'\(value.typeName)' object is not iterable")
        }
    }

    func assign(_ target: AssignTarget, _ value: Value, in frame: Frame) throws {
        switch target {
        case .name(let name):
            frame.variables[name] = value
        case .names(let names):
            let items: [Value]
            switch value {
            case .list, .string, .dict: items = try iterate(value)
            default: throw RenderFailure.type("cannot unpack non-iterable \(value.typeName) object")
            }
            guard items.count == names.count else {
                throw RenderFailure.value(items.count > names.count
                    ? "too many values to unpack (expected \(names.count))"
                    : "not enough values to unpack (expected \(names.count), got \(items.count))")
            }
            for (name, item) in zip(names, items) { frame.variables[name] = item }
        case .namespaceAttribute(let name, let attribute):
            guard case .namespace(let namespace) = frame.lookup(name) ?? .undefined(.name(name)) else {
                throw RenderFailure.type("cannot assign attribute on non-namespace object")
            }
            // transformers refuses underscore names, which could reach Python internals.
            guard !attribute.hasPrefix("_") else {
                throw RenderFailure.security("chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(attribute)'")
            }
            let depth = value.depth
            guard depth < Self.maxValueDepth else {
                throw RenderFailure.limit("values nested deeper than \(Self.maxValueDepth) levels")
            }
            namespace.attributes.set(attribute, value, depth: depth)
        }
    }
}
