/// The parsed form of a template: statements (`Node`) and expressions (`Expr`), each with the
/// source offset errors point at. Immutable and Sendable, so one parse serves every render.

struct Expr: Sendable {
    let kind: Kind
    let offset: Int
    /// Height of the tree below (1 for a leaf): evaluation recurses this deep, so the parser
    /// bounds it (`a + b + c + …` nests to the left without nesting in the source).
    let depth: Int

    init(kind: Kind, offset: Int) {
        self.kind = kind
        self.offset = offset
        depth = 1 + kind.children.reduce(0) { max($0, $1.depth) }
    }

    indirect enum Kind: Sendable {
        case literal(Literal)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(key: Expr, value: Expr)])
        /// `a.b`: attribute first, then item (Jinja's `getattr`).
        case attribute(Expr, String)
        /// `a[b]`: item first, then attribute (Jinja's `getitem`).
        case item(Expr, Expr)
        case slice(Expr, start: Expr?, stop: Expr?, step: Expr?)
        case call(Expr, Arguments)
        case filter(Expr, FilterCall)
        case test(Expr, TestCall)
        case unary(UnaryOperator, Expr)
        case binary(BinaryOperator, Expr, Expr)
        /// `a ~ b ~ c`: string conversion and concatenation.
        case concat([Expr])
        case and(Expr, Expr)
        case or(Expr, Expr)
        /// `a < b <= c`: chained like Python.
        case compare(Expr, [(CompareOperator, Expr)])
        /// `a if b else c`; without `else` the result is undefined when `b` is false.
        case conditional(test: Expr, then: Expr, otherwise: Expr?)
    }
}

extension Expr.Kind {
    var children: [Expr] {
        switch self {
        case .literal, .name: return []
        case .list(let items), .tuple(let items), .concat(let items): return items
        case .dict(let pairs): return pairs.flatMap { [$0.key, $0.value] }
        case .attribute(let base, _): return [base]
        case .item(let base, let index): return [base, index]
        case .slice(let base, let start, let stop, let step): return [base] + [start, stop, step].compactMap { $0 }
        case .call(let callee, let arguments): return [callee] + arguments.all
        case .filter(let base, let filter): return [base] + filter.arguments.all
        case .test(let base, let test): return [base] + test.arguments.all
        case .unary(_, let operand): return [operand]
        case .binary(_, let left, let right), .and(let left, let right), .or(let left, let right): return [left, right]
        case .compare(let first, let operations): return [first] + operations.map(\.1)
        case .conditional(let test, let then, let otherwise): return [test, then] + (otherwise.map { [$0] } ?? [])
        }
    }
}

enum Literal: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
}

struct Arguments: Sendable {
    var positional: [Expr] = []
    var keywords: [(name: String, value: Expr)] = []

    var all: [Expr] { positional + keywords.map(\.value) }
}

enum UnaryOperator: Sendable { case negate, plus, not }

enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
}

enum CompareOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case `in` = "in", notIn = "not in"
}

struct FilterCall: Sendable {
    let filter: TemplateFilter
    let name: String
    let arguments: Arguments
    let offset: Int
}

struct TestCall: Sendable {
    let test: TemplateTest
    let name: String
    let arguments: Arguments
    let negated: Bool
}

/// Where `set`, `for` and `with` store values.
enum AssignTarget: Sendable {
    case name(String)
    /// `a, b` (tuple unpacking).
    case names([String])
    /// `ns.attr`: the only way a template can change a value defined outside a loop.
    case namespaceAttribute(String, String)
}

indirect enum Node: Sendable {
    case text(String)
    case output(Expr)
    case conditional(branches: [(test: Expr, body: [Node])], otherwise: [Node])
    case loop(Loop)
    case set(AssignTarget, Expr, offset: Int)
    case setBlock(AssignTarget, filters: [FilterCall], body: [Node], offset: Int)
    case macro(Macro)
    /// `{% call macro(args) %}body{% endcall %}`: the body becomes `caller()` inside the macro.
    case callBlock(call: Expr, callerParameters: [Parameter], body: [Node])
    case filterBlock([FilterCall], body: [Node])
    case with([(AssignTarget, Expr)], body: [Node])
    case breakLoop(offset: Int)
    case continueLoop(offset: Int)
}

struct Loop: Sendable {
    let target: AssignTarget
    let iterable: Expr
    /// `{% for x in xs if cond %}`: items failing `cond` are skipped before `loop` counts them.
    let condition: Expr?
    let body: [Node]
    /// Rendered when there was no iteration.
    let otherwise: [Node]
    let offset: Int
}

struct Parameter: Sendable {
    let name: String
    let defaultValue: Expr?
}

struct Macro: Sendable {
    let name: String
    let parameters: [Parameter]
    let body: [Node]
    let offset: Int
}
