import Foundation

/// Python's `'%s: %d' % (a, b)` (also the `format` filter), for the conversions templates
/// use: `s r d i f F e E g G x X o c %` with flags, width and precision.
enum PercentFormat {
    static func format(_ format: String, _ arguments: Value) throws -> String {
        // A tuple gives the arguments; anything else is one argument. A dict (or another
        // object with items, such as a list) may also serve `%(name)s` and need not be used up.
        var values: [Value] = [arguments]
        var mappingLike = false
        var mapping: ValueDict?
        switch arguments {
        case .list(let list) where list.isTuple: values = list.items
        case .list(let list) where list.kind == .list: mappingLike = true
        case .dict(let dict): mapping = dict; mappingLike = true
        case .undefined: mappingLike = true
        default: break
        }
        let f = Array(format.unicodeScalars)
        var out = ""
        var i = 0
        var next = 0
        func take() throws -> Value {
            guard next < values.count else { throw RenderFailure.type("not enough arguments for format string") }
            defer { next += 1 }
            return values[next]
        }
        while i < f.count {
            guard f[i] == "%" else { out.unicodeScalars.append(f[i]); i += 1; continue }
            i += 1
            guard i < f.count else { throw RenderFailure.value("incomplete format") }
            var value: Value?
            if f[i] == "(" {
                guard let mapping else { throw RenderFailure.type("format requires a mapping") }
                var key = ""
                i += 1
                while i < f.count, f[i] != ")" { key.unicodeScalars.append(f[i]); i += 1 }
                i += 1
                guard let found = mapping[key] else { throw RenderFailure.type("KeyError: \(PythonText.quote(key))") }
                value = found
            }
            var flags = ""
            while i < f.count, "-+ #0".unicodeScalars.contains(f[i]) { flags.unicodeScalars.append(f[i]); i += 1 }
            var width = ""
            while i < f.count, ("0"..."9").contains(f[i]) { width.unicodeScalars.append(f[i]); i += 1 }
            var precision: Int?
            if i < f.count, f[i] == "." {
                i += 1
                var digits = ""
                while i < f.count, ("0"..."9").contains(f[i]) { digits.unicodeScalars.append(f[i]); i += 1 }
                precision = Int(digits) ?? 0
            }
            guard i < f.count else { throw RenderFailure.value("incomplete format") }
            let conversion = f[i]
            i += 1
            if conversion == "%" { out += "%"; continue }
            let argument = try value ?? take()
            var body: String
            switch conversion {
            case "s": body = PythonText.str(argument)
            case "r", "a": body = PythonText.repr(argument)
            case "d", "i", "u":
                guard let number = Interpreter.double(argument) else { throw RenderFailure.type("%\(conversion) format: a real number is required, not \(argument.typeName)") }
                if case .int(let n) = argument { body = String(n) } else { body = String(Int(number.rounded(.towardZero))) }
                if flags.contains("+"), !body.hasPrefix("-") { body = "+" + body }
            case "f", "F", "e", "E", "g", "G":
                guard let number = Interpreter.double(argument) else { throw RenderFailure.type("must be real number, not \(argument.typeName)") }
                body = String(format: "%\(flags.contains("+") ? "+" : "")\(flags.contains("#") ? "#" : "").\(precision ?? 6)\(conversion)", number)
            case "x", "X", "o":
                guard let n = Interpreter.integer(argument) else { throw RenderFailure.type("%\(conversion) format: an integer is required, not \(argument.typeName)") }
                body = String(n, radix: conversion == "o" ? 8 : 16, uppercase: conversion == "X")
            case "c":
                if case .string(let s) = argument, s.unicodeScalars.count == 1 { body = s }
                else if let n = Interpreter.integer(argument), let c = Unicode.Scalar(UInt32(clamping: n)) { body = String(c) }
                else { throw RenderFailure.type("%c requires int or char") }
            default:
                throw RenderFailure.value("unsupported format character '\(conversion)'")
            }
            if conversion == "s" || conversion == "r", let precision { body = String(body.unicodeScalars.prefix(precision).map(Character.init)) }
            let minimum = Int(width) ?? 0
            let length = body.unicodeScalars.count
            if length < minimum {
                let padding = minimum - length
                if flags.contains("-") {
                    body += String(repeating: " ", count: padding)
                } else if flags.contains("0"), "dfFeEgGxXoiu".unicodeScalars.contains(conversion) {
                    let sign = body.hasPrefix("-") || body.hasPrefix("+") ? String(body.removeFirst()) : ""
                    body = sign + String(repeating: "0", count: padding) + body
                } else {
                    body = String(repeating: " ", count: padding) + body
                }
            }
            out += body
        }
        if next < values.count, !mappingLike {
            throw RenderFailure.type("not all arguments converted during string formatting")
        }
        return out
    }
}

/// Python's `'{} {name}'.format(x, name=y)` with automatic and explicit field numbering and
/// `!r`/`!s` conversions; format specs are not supported.
enum BraceFormat {
    static func format(_ format: String, _ positional: [Value], _ keywords: [(String, Value)]) throws -> String {
        let f = Array(format.unicodeScalars)
        var out = ""
        var i = 0
        var automatic = 0
        while i < f.count {
            let c = f[i]
            if c == "}" {
                guard i + 1 < f.count, f[i + 1] == "}" else { throw RenderFailure.value("Single '}' encountered in format string") }
                out += "}"
                i += 2
                continue
            }
            guard c == "{" else { out.unicodeScalars.append(c); i += 1; continue }
            if i + 1 < f.count, f[i + 1] == "{" { out += "{"; i += 2; continue }
            var field = ""
            i += 1
            while i < f.count, f[i] != "}" { field.unicodeScalars.append(f[i]); i += 1 }
            guard i < f.count else { throw RenderFailure.value("expected '}' before end of string") }
            i += 1
            var conversion: Character?
            if let bang = field.firstIndex(of: "!") {
                conversion = field[field.index(after: bang)...].first
                field = String(field[..<bang])
            }
            guard !field.contains(":") else { throw RenderFailure.value("format specs in str.format are not supported") }
            let value: Value
            if field.isEmpty {
                guard automatic < positional.count else { throw RenderFailure.value("Replacement index \(automatic) out of range for positional args tuple") }
                value = positional[automatic]
                automatic += 1
            } else if let index = Int(field) {
                guard index < positional.count else { throw RenderFailure.value("Replacement index \(index) out of range for positional args tuple") }
                value = positional[index]
            } else {
                guard let found = keywords.last(where: { $0.0 == field })?.1 else { throw RenderFailure.type("KeyError: \(PythonText.quote(field))") }
                value = found
            }
            out += conversion == "r" ? PythonText.repr(value) : PythonText.str(value)
        }
        return out
    }
}
