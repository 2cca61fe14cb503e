/// What the sequence filters share: generators, lengths, Python's sort order, Jinja's
/// attribute paths, and `map` / `select` / `reject` / `selectattr` / `rejectattr`.
extension Interpreter {
    // MARK: Helpers shared by filters

    /// A generator, as the Jinja filter returns: made now, but an error in the making is
    /// raised only when it is consumed (limits excepted).
    func lazily(_ function: String, _ body: () throws -> [Value]) throws -> Value {
        let kind = ValueList.Kind.iterator("generator object \(function)")
        do {
            return .list(ValueList(try body(), kind: kind))
        } catch let failure as RenderFailure {
            if case .limit = failure { throw failure }
            return .list(ValueList([], kind: kind, pendingFailure: failure))
        }
    }

    func length(of value: Value) throws -> Int {
        switch value {
        case .string(let s): return s.unicodeScalars.count
        case .list(let list):
            if case .iterator = list.kind { throw RenderFailure.type("object of type '\(value.typeName)' has no len()") }
            return list.items.count
        case .dict(let dict): return dict.count
        case .undefined: return 0
        case .loop(let context): return context.items.count
        default: throw RenderFailure.type("object of type '\(value.typeName)' has no len()")
        }
    }

    static func double(_ value: Value) -> Double? {
        switch value {
        case .int(let i): return Double(i)
        case .bool(let b): return b ? 1 : 0
        case .double(let d): return d
        default: return nil
        }
    }

    static func ignoringCase(_ value: Value) -> Value {
        if case .string(let s) = value { return .string(s.lowercased()) }
        return value
    }

    /// Jinja's attribute getter for `map`, `sort`, `selectattr`…: dotted path, item lookup
    /// first, numeric parts as indexes.
    func attributePath(_ path: Value, of item: Value) throws -> Value {
        guard case .string(let text) = path else { return try self.item(path, of: item) }
        var current = item
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            let key: Value = Int(part).map(Value.int) ?? .string(String(part))
            current = try self.item(key, of: current)
        }
        return current
    }

    /// A stable sort by key with Python's ordering (mixed types are a TypeError).
    func sorted(_ items: [Value], reverse: Bool, key: (Value) throws -> Value) throws -> [Value] {
        try countIterations(items.count)
        let keyed = try items.enumerated().map { ($0.offset, try key($0.element), $0.element) }
        var failure: Error?
        let ordered = keyed.sorted { a, b in
            guard failure == nil else { return false }
            do {
                if try self.less(a.1, b.1) { return !reverse }
                if try self.less(b.1, a.1) { return reverse }
            } catch {
                failure = error
            }
            return a.0 < b.0
        }
        if let failure { throw failure }
        return ordered.map(\.2)
    }

    func mapItems(_ value: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> [Value] {
        let items = try iterate(value)
        if positional.isEmpty, let attributeIndex = keywords.firstIndex(where: { $0.0 == "attribute" }) {
            let arguments = try CallArguments("map", [], keywords, parameters: ["attribute", "default"])
            let path = keywords[attributeIndex].1
            return try items.map { item in
                let result = try attributePath(path, of: item)
                if result.isUndefined, let fallback = arguments[1] { return fallback }
                return result
            }
        }
        guard case .string(let name)? = positional.first, let filter = TemplateFilter(name: name) else {
            throw RenderFailure.type("map: expected a filter name or attribute=")
        }
        return try items.map { try applyFilter(filter, to: $0, Array(positional.dropFirst()), keywords) }
    }

    func selectItems(_ value: Value, _ filter: TemplateFilter, _ positional: [Value], _ keywords: [(String, Value)]) throws -> [Value] {
        guard keywords.isEmpty else { throw RenderFailure.type("\(filter.rawValue): keyword arguments are not supported") }
        let byAttribute = filter == .selectattr || filter == .rejectattr
        let keep = filter == .select || filter == .selectattr
        var arguments = positional[...]
        var path: Value?
        if byAttribute {
            guard let first = arguments.popFirst() else { throw RenderFailure.type("\(filter.rawValue): missing the attribute") }
            path = first
        }
        var test: TemplateTest?
        if let name = arguments.popFirst() {
            guard case .string(let testName) = name, let found = TemplateTest(name: testName) else {
                throw RenderFailure.type("\(filter.rawValue): no test named \(PythonText.repr(name))")
            }
            test = found
        }
        let testArguments = Array(arguments)
        return try iterate(value).filter { item in
            let subject = try path.map { try attributePath($0, of: item) } ?? item
            let passes = try test.map { try $0.apply(to: subject, testArguments, [], self) } ?? subject.truthy
            return passes == keep
        }
    }

}
