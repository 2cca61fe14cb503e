/// Macros and call blocks: a macro call gets its own frame under the frame the macro was
/// defined in (so it sees later top-level `set`s, as in Jinja), missing arguments are
/// undefined rather than errors, and `{% call %}` hands its body to the macro as `caller()`.
extension Interpreter {
    // MARK: Macros

    func makeMacro(_ macro: Macro, definedIn frame: Frame) -> Callable {
        // Weak: the frame holds the macro, and a strong reference back would leak both.
        Callable(macro.name, isMacro: true) { [weak frame] interpreter, positional, keywords in
            try interpreter.call(macro, positional, keywords, definedIn: frame)
        }
    }

    private func call(_ macro: Macro, _ positional: [Value], _ keywords: [(String, Value)], definedIn frame: Frame?) throws -> Value {
        guard positional.count <= macro.parameters.count else {
            throw RenderFailure.type("macro '\(macro.name)' takes not more than \(macro.parameters.count) argument(s)")
        }
        callDepth += 1
        defer { callDepth -= 1 }
        guard callDepth <= limits.maxCallDepth else {
            throw RenderFailure.limit("macro calls nested deeper than \(limits.maxCallDepth)")
        }
        let scope = Frame(parent: frame)
        var given: [String: Value] = [:]
        for (name, value) in keywords {
            guard name == "caller" || macro.parameters.contains(where: { $0.name == name }) else {
                throw RenderFailure.type("macro '\(macro.name)' takes no keyword argument '\(name)'")
            }
            given[name] = value
        }
        for (index, parameter) in macro.parameters.enumerated() {
            if index < positional.count {
                scope.variables[parameter.name] = positional[index]
            } else if let value = given[parameter.name] {
                scope.variables[parameter.name] = value
            } else if let defaultValue = parameter.defaultValue {
                scope.variables[parameter.name] = try evaluate(defaultValue, scope)
            } else {
                // Jinja passes a missing argument as undefined rather than failing.
                scope.variables[parameter.name] = .undefined(Undefined(hint: "parameter '\(parameter.name)' was not provided"))
            }
        }
        if let caller = given["caller"] { scope.variables["caller"] = caller }
        return .string(try capture { _ = try execute(macro.body, in: scope) })
    }

    func runCallBlock(_ call: Expr, callerParameters: [Parameter], body: [Node], in frame: Frame) throws {
        guard case .call(let calleeExpr, let arguments) = call.kind else { return }
        let caller = Callable("caller", isMacro: true) { [weak frame] interpreter, positional, keywords in
            let callerMacro = Macro(name: "caller", parameters: callerParameters, body: body, offset: call.offset)
            return try interpreter.call(callerMacro, positional, keywords, definedIn: frame)
        }
        let callee = try evaluate(calleeExpr, frame)
        var (positional, keywords) = try evaluateArguments(arguments, frame)
        keywords.append(("caller", .callable(caller)))
        offset = call.offset
        try write(PythonText.str(try invoke(callee, positional, keywords)))
    }
}


