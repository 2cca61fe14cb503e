import KilnCore

/// A pickle virtual machine (protocols 0–5, https://github.com/python/cpython/blob/main/Lib/pickletools.py)
/// that builds only plain data and allow-listed torch objects (see `TorchGlobal`). It never
/// imports or calls anything: GLOBAL names are looked up in a fixed table and anything not in
/// it is refused on sight, naming the global; REDUCE, NEWOBJ, BUILD, INST and OBJ work only on
/// those few globals, whose behaviour Kiln implements itself.
///
/// Everything is bounded: the stack, the memo and the container arena by fixed limits (and
/// in practice by the pickle's length, one opcode per push), every length field by the bytes
/// that remain, and the nesting walked later by `PickleMachine.maxDepth`.
struct PickleMachine {
    enum PersistentIDs {
        /// A plain pickle: persistent ids are refused.
        case refused
        /// torch zip checkpoints: ('storage', storage_type, key, location, numel).
        case zip
        /// legacy torch.save: the same plus a sixth element, view metadata (must be None).
        case legacy
    }

    static let maxStack = 1 << 20
    static let maxMemo = 1 << 22
    static let maxContainers = 1 << 22
    static let maxDepth = 64
    static let maxDimensions = 64

    /// Where the pickle is, for error messages: e.g. "data.pkl" or "legacy object pickle".
    let source: String
    let persistentIDs: PersistentIDs
    var reader: ByteReader
    var stack: [PickleValue] = []
    /// Stack heights at each MARK.
    var marks: [Int] = []
    var memo: [UInt64: PickleValue] = [:]
    var containers: [PickleContainer] = []
    var storages: [StorageRef] = []
    var storageIndex: [String: Int] = [:]
    var tensors: [TensorRef] = []
    /// File offset of the opcode being run.
    private(set) var opcodeOffset: UInt64 = 0

    init(_ bytes: UnsafeRawBufferPointer, baseOffset: UInt64, source: String, persistentIDs: PersistentIDs) {
        reader = ByteReader(bytes, baseOffset: baseOffset)
        self.source = source
        self.persistentIDs = persistentIDs
    }

    // MARK: Errors

    func fail(_ message: String) -> KilnError {
        KilnError.malformed(message, at: opcodeOffset, "pickle \(source)")
    }

    /// Protocol 0–2 pickles spell some globals with Python 2 module names (pickle's
    /// fix_imports); Python 3 reads `__builtin__.eval` as `builtins.eval`. Named in errors so
    /// the user sees both.
    static let python2Modules = ["__builtin__": "builtins", "commands": "subprocess", "copy_reg": "copyreg", "cPickle": "pickle"]

    func refuse(_ global: String, _ how: String) -> KilnError {
        let module = String(global.split(separator: ".").first ?? "")
        let python3 = Self.python2Modules[module].map { " (Python 3: \($0)\(global.dropFirst(module.count)))" } ?? ""
        return KilnError(.unsupported,
                  "refusing to load global '\(global)'\(python3) (\(how)): Kiln only builds tensors and plain containers from a pickle and never imports or runs code; allowed globals: \(TorchGlobal.allowListDescription)",
                  location: "pickle \(source)", offset: opcodeOffset)
    }

    // MARK: Stack

    mutating func push(_ value: PickleValue) throws {
        guard stack.count < Self.maxStack else { throw fail("stack grows past \(Self.maxStack) values") }
        stack.append(value)
    }

    mutating func pop() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw fail("stack underflow") }
        return stack.removeLast()
    }

    func top() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw fail("stack underflow: the opcode needs a value on the stack") }
        return stack[stack.count - 1]
    }

    /// The values pushed since the last MARK, removing them and the mark.
    mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw fail("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    mutating func newContainer(_ kind: PickleContainer.Kind, _ items: [PickleValue] = []) throws -> PickleValue {
        guard containers.count < Self.maxContainers else { throw fail("more than \(Self.maxContainers) containers") }
        containers.append(PickleContainer(kind: kind, items: items))
        return .container(containers.count - 1)
    }

    func container(_ value: PickleValue, _ what: String) throws -> Int {
        guard case .container(let index) = value else { throw fail("\(what) needs a container, found \(value.typeName)") }
        return index
    }

    func tupleItems(_ value: PickleValue, _ what: String) throws -> [PickleValue] {
        let index = try container(value, what)
        guard containers[index].kind == .tuple else { throw fail("\(what) needs a tuple, found a \(containers[index].kind.rawValue)") }
        return containers[index].items
    }

    mutating func setItem(_ dict: Int, _ key: PickleValue, _ value: PickleValue) throws {
        guard containers[dict].isDict else { throw fail("SETITEM on a \(containers[dict].kind.rawValue), which is not a dict") }
        let k = try hashKey(key, depth: 0)
        if let position = containers[dict].index[k] {
            containers[dict].items[position] = value
        } else {
            containers[dict].index[k] = containers[dict].keys.count
            containers[dict].keys.append(key)
            containers[dict].items.append(value)
        }
    }

    /// The most values one dict key may expand to. Tuples are shared by reference (the memo),
    /// so a 600-byte pickle can build a key of 2⁶⁴ values by nesting `(t, t)` pairs: found by
    /// fuzzing as a hang in hashing. Real checkpoints' keys are strings or small tuples.
    static let maxKeyValues = 1 << 16

    func hashKey(_ value: PickleValue, depth: Int) throws -> PickleKey {
        var budget = Self.maxKeyValues
        return try hashKey(value, depth: depth, budget: &budget)
    }

    private func hashKey(_ value: PickleValue, depth: Int, budget: inout Int) throws -> PickleKey {
        budget -= 1
        guard budget >= 0 else { throw fail("dict key holds more than \(Self.maxKeyValues) values") }
        switch value {
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .bigInt(let b): return .bigInt(b)
        case .float(let f): return .float(f.bitPattern)
        case .string(let s): return .string(s)
        case .bytes(let b): return .bytes(b)
        case .container(let index) where containers[index].kind == .tuple:
            guard depth < Self.maxDepth else { throw fail("dict key nests deeper than \(Self.maxDepth) levels") }
            var parts: [PickleKey] = []
            for item in containers[index].items { parts.append(try hashKey(item, depth: depth + 1, budget: &budget)) }
            return .tuple(parts)
        default:
            throw fail("unhashable dict key: \(value.typeName)")
        }
    }

    // MARK: Reading operands

    mutating func line(_ what: String) throws -> String {
        let rest = UnsafeRawBufferPointer(rebasing: reader.bytes[reader.position...])
        guard let newline = rest.firstIndex(of: 0x0A) else { throw fail("\(what): no end of line before the end of the pickle") }
        let raw = try reader.readBytes(newline - rest.startIndex, what)
        try reader.skip(1, what)
        guard let text = ByteReader.validatedUTF8(raw) else { throw fail("\(what) is not valid UTF-8") }
        return text
    }

    mutating func lengthPrefixed(_ length: UInt64, _ what: String) throws -> UnsafeRawBufferPointer {
        guard length <= UInt64(reader.remaining) else {
            throw fail("\(what) claims \(length) bytes but only \(reader.remaining) remain in the pickle")
        }
        return try reader.readBytes(Int(length), what)
    }

    mutating func utf8(_ length: UInt64, _ what: String) throws -> String {
        let raw = try lengthPrefixed(length, what)
        guard let text = ByteReader.validatedUTF8(raw) else { throw fail("\(what) is not valid UTF-8") }
        return text
    }

    /// LONG1/LONG4 payloads: little-endian two's complement of any length.
    static func integer(_ raw: UnsafeRawBufferPointer) -> PickleValue {
        if raw.isEmpty { return .int(0) }
        let negative = raw[raw.count - 1] & 0x80 != 0
        // Bytes above the low eight that are only sign extension do not make it a big integer.
        var significant = raw.count
        while significant > 8, raw[significant - 1] == (negative ? 0xFF : 0x00), (raw[significant - 2] & 0x80 != 0) == negative {
            significant -= 1
        }
        if significant > 8 { return .bigInt(Array(raw)) }
        var value: UInt64 = negative ? ~0 : 0
        for i in 0..<significant {
            value &= ~(UInt64(0xFF) << (8 * UInt64(i)))
            value |= UInt64(raw[i]) << (8 * UInt64(i))
        }
        return .int(Int64(bitPattern: value))
    }

    mutating func memoKey(_ key: UInt64) throws {
        guard memo[key] != nil || memo.count < Self.maxMemo else { throw fail("memo grows past \(Self.maxMemo) entries") }
        memo[key] = try top()
    }

    mutating func memoGet(_ key: UInt64) throws {
        guard let value = memo[key] else { throw fail("memo entry \(key) is read but was never stored") }
        try push(value)
    }

    mutating func global(module: String, name: String, opcode: String) throws {
        guard let resolved = try TorchGlobal.resolve(module: module, name: name) else {
            throw refuse("\(module).\(name)", "\(opcode) at byte \(opcodeOffset)")
        }
        try push(.global(resolved))
    }

    // MARK: Running

    /// Runs from the current position to STOP and returns the pickled object; the reader is
    /// left just after the STOP (legacy checkpoints are several pickles back to back).
    mutating func run() throws -> PickleValue {
        while true {
            opcodeOffset = reader.fileOffset
            let opcode = try reader.read(UInt8.self, "opcode")
            switch opcode {
            // Framing and protocol
            case 0x80: // PROTO
                let version = try reader.read(UInt8.self, "protocol version")
                guard version <= 5 else { throw fail("pickle protocol \(version) is newer than 5, the highest Kiln knows") }
            case 0x95: // FRAME: a length hint only
                let length = try reader.read(UInt64.self, "frame length")
                guard length <= UInt64(reader.remaining) else { throw fail("frame of \(length) bytes but \(reader.remaining) remain") }
            case UInt8(ascii: "."): // STOP
                return try pop()

            // Stack manipulation
            case UInt8(ascii: "("): // MARK
                guard marks.count < Self.maxStack else { throw fail("too many MARKs") }
                marks.append(stack.count)
            case UInt8(ascii: "0"): // POP
                if stack.count > (marks.last ?? 0) { stack.removeLast() } else { _ = try popMark() }
            case UInt8(ascii: "1"): // POP_MARK
                _ = try popMark()
            case UInt8(ascii: "2"): // DUP
                try push(try top())

            // Memo
            case UInt8(ascii: "q"): try memoKey(UInt64(try reader.read(UInt8.self, "BINPUT index")))
            case UInt8(ascii: "r"): try memoKey(UInt64(try reader.read(UInt32.self, "LONG_BINPUT index")))
            case 0x94: try memoKey(UInt64(memo.count)) // MEMOIZE
            case UInt8(ascii: "p"): // PUT
                guard let key = UInt64(try line("PUT index")) else { throw fail("PUT index is not a number") }
                try memoKey(key)
            case UInt8(ascii: "h"): try memoGet(UInt64(try reader.read(UInt8.self, "BINGET index")))
            case UInt8(ascii: "j"): try memoGet(UInt64(try reader.read(UInt32.self, "LONG_BINGET index")))
            case UInt8(ascii: "g"): // GET
                guard let key = UInt64(try line("GET index")) else { throw fail("GET index is not a number") }
                try memoGet(key)

            // Scalars
            case UInt8(ascii: "N"): try push(.none)
            case 0x88: try push(.bool(true)) // NEWTRUE
            case 0x89: try push(.bool(false)) // NEWFALSE
            case UInt8(ascii: "J"): try push(.int(Int64(try reader.read(Int32.self, "BININT")))) // BININT
            case UInt8(ascii: "K"): try push(.int(Int64(try reader.read(UInt8.self, "BININT1"))))
            case UInt8(ascii: "M"): try push(.int(Int64(try reader.read(UInt16.self, "BININT2"))))
            case 0x8A: // LONG1
                let length = try reader.read(UInt8.self, "LONG1 length")
                try push(Self.integer(try lengthPrefixed(UInt64(length), "LONG1")))
            case 0x8B: // LONG4
                let length = try reader.read(Int32.self, "LONG4 length")
                guard length >= 0 else { throw fail("LONG4 length \(length) is negative") }
                try push(Self.integer(try lengthPrefixed(UInt64(length), "LONG4")))
            case UInt8(ascii: "I"): // INT (protocol 0); "00"/"01" are False/True
                let text = try line("INT")
                if text == "00" { try push(.bool(false)) } else if text == "01" { try push(.bool(true)) } else {
                    guard let value = Int64(text) else { throw fail("INT '\(text.prefix(40))' is not a 64-bit integer") }
                    try push(.int(value))
                }
            case UInt8(ascii: "L"): // LONG (protocol 0)
                var text = try line("LONG")
                if text.hasSuffix("L") { text.removeLast() }
                guard let value = Int64(text) else { throw fail("LONG '\(text.prefix(40))' is not a 64-bit integer") }
                try push(.int(value))
            case UInt8(ascii: "G"): // BINFLOAT: big-endian binary64
                try push(.float(Double(bitPattern: UInt64(bigEndian: UInt64(littleEndian: try reader.read(UInt64.self, "BINFLOAT"))))))
            case UInt8(ascii: "F"): // FLOAT (protocol 0)
                let text = try line("FLOAT")
                guard let value = Double(text) else { throw fail("FLOAT '\(text.prefix(40))' is not a number") }
                try push(.float(value))

            // Strings and bytes
            case UInt8(ascii: "X"): try push(.string(try utf8(UInt64(try reader.read(UInt32.self, "BINUNICODE length")), "BINUNICODE")))
            case 0x8C: try push(.string(try utf8(UInt64(try reader.read(UInt8.self, "SHORT_BINUNICODE length")), "SHORT_BINUNICODE")))
            case 0x8D: try push(.string(try utf8(try reader.read(UInt64.self, "BINUNICODE8 length"), "BINUNICODE8")))
            case UInt8(ascii: "B"): try push(.bytes(Array(try lengthPrefixed(UInt64(try reader.read(UInt32.self, "BINBYTES length")), "BINBYTES"))))
            case UInt8(ascii: "C"): try push(.bytes(Array(try lengthPrefixed(UInt64(try reader.read(UInt8.self, "SHORT_BINBYTES length")), "SHORT_BINBYTES"))))
            case 0x8E: try push(.bytes(Array(try lengthPrefixed(try reader.read(UInt64.self, "BINBYTES8 length"), "BINBYTES8"))))
            case 0x96: try push(.bytes(Array(try lengthPrefixed(try reader.read(UInt64.self, "BYTEARRAY8 length"), "BYTEARRAY8"))))
            case UInt8(ascii: "T"), UInt8(ascii: "U"): // BINSTRING, SHORT_BINSTRING: Python 2 str, decoded as torch.load does (UTF-8)
                let length: UInt64
                if opcode == UInt8(ascii: "T") {
                    let signed = try reader.read(Int32.self, "BINSTRING length")
                    guard signed >= 0 else { throw fail("BINSTRING length \(signed) is negative") }
                    length = UInt64(signed)
                } else {
                    length = UInt64(try reader.read(UInt8.self, "SHORT_BINSTRING length"))
                }
                let raw = try lengthPrefixed(length, "BINSTRING")
                try push(ByteReader.validatedUTF8(raw).map(PickleValue.string) ?? .bytes(Array(raw)))

            // Containers
            case UInt8(ascii: ")"): try push(try newContainer(.tuple))
            case 0x85: let a = try pop(); try push(try newContainer(.tuple, [a])) // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); try push(try newContainer(.tuple, [a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); try push(try newContainer(.tuple, [a, b, c]))
            case UInt8(ascii: "t"): try push(try newContainer(.tuple, try popMark()))
            case UInt8(ascii: "]"): try push(try newContainer(.list))
            case UInt8(ascii: "l"): try push(try newContainer(.list, try popMark()))
            case 0x8F: try push(try newContainer(.set)) // EMPTY_SET
            case 0x91: try push(try newContainer(.set, try popMark())) // FROZENSET
            case UInt8(ascii: "a"), UInt8(ascii: "e"), 0x90: // APPEND, APPENDS, ADDITEMS
                let items = opcode == UInt8(ascii: "a") ? [try pop()] : try popMark()
                let target = try container(try top(), "APPEND")
                let wanted: PickleContainer.Kind = opcode == 0x90 ? .set : .list
                guard containers[target].kind == wanted else {
                    throw fail("appending to a \(containers[target].kind.rawValue); only \(wanted.rawValue)s can be appended to")
                }
                containers[target].items.append(contentsOf: items)
            case UInt8(ascii: "}"): try push(try newContainer(.dict))
            case UInt8(ascii: "d"): // DICT
                let items = try popMark()
                let dict = try newContainer(.dict)
                try setItems(try container(dict, "DICT"), items)
                try push(dict)
            case UInt8(ascii: "s"): // SETITEM
                let value = try pop(), key = try pop()
                try setItem(try container(try top(), "SETITEM"), key, value)
            case UInt8(ascii: "u"): // SETITEMS
                let items = try popMark()
                try setItems(try container(try top(), "SETITEMS"), items)

            // Globals and object construction: only the allow-list, implemented here.
            case UInt8(ascii: "c"): // GLOBAL
                let module = try line("GLOBAL module"), name = try line("GLOBAL name")
                try global(module: module, name: name, opcode: "GLOBAL")
            case 0x93: // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .string(let n) = name, case .string(let m) = module else {
                    throw fail("STACK_GLOBAL needs two strings, found \(module.typeName) and \(name.typeName)")
                }
                try global(module: m, name: n, opcode: "STACK_GLOBAL")
            case UInt8(ascii: "R"): // REDUCE
                let args = try pop(), callable = try pop()
                try push(try call(callable, args, opcode: "REDUCE"))
            case 0x81: // NEWOBJ
                let args = try pop(), cls = try pop()
                try push(try instantiate(cls, args, opcode: "NEWOBJ"))
            case 0x92: // NEWOBJ_EX
                let kwargs = try pop(), args = try pop(), cls = try pop()
                let k = try container(kwargs, "NEWOBJ_EX keyword arguments")
                guard containers[k].items.isEmpty else { throw fail("NEWOBJ_EX with keyword arguments is not supported") }
                try push(try instantiate(cls, args, opcode: "NEWOBJ_EX"))
            case UInt8(ascii: "i"): // INST: class named inline, arguments since the MARK
                let module = try line("INST module"), name = try line("INST name")
                guard let resolved = try TorchGlobal.resolve(module: module, name: name) else {
                    throw refuse("\(module).\(name)", "INST at byte \(opcodeOffset)")
                }
                let args = try newContainer(.tuple, try popMark())
                try push(try instantiate(.global(resolved), args, opcode: "INST"))
            case UInt8(ascii: "o"): // OBJ: class and arguments since the MARK
                var items = try popMark()
                guard !items.isEmpty else { throw fail("OBJ with nothing after its MARK") }
                let cls = items.removeFirst()
                try push(try instantiate(cls, try newContainer(.tuple, items), opcode: "OBJ"))
            case UInt8(ascii: "b"): // BUILD
                let state = try pop()
                let target = try top()
                guard case .container(let index) = target, containers[index].isDict else {
                    throw fail("BUILD on a \(target.typeName): Kiln sets state only on OrderedDict (a state dict's _metadata), state was \(state.typeName)")
                }
                // A state dict's attributes (`_metadata`: module versions) are not tensors: dropped.
            case UInt8(ascii: "Q"): // BINPERSID
                let pid = try pop()
                try push(try persistentLoad(pid))
            case UInt8(ascii: "P"): // PERSID (protocol 0)
                throw fail("PERSID (text persistent id) is not used by torch.save and is not supported")
            case 0x82, 0x83, 0x84: // EXT1, EXT2, EXT4
                let code: UInt32
                switch opcode {
                case 0x82: code = UInt32(try reader.read(UInt8.self, "EXT1 code"))
                case 0x83: code = UInt32(try reader.read(UInt16.self, "EXT2 code"))
                default: code = try reader.read(UInt32.self, "EXT4 code")
                }
                throw KilnError(.unsupported,
                                "refusing extension-registry global #\(code) (EXT opcode at byte \(opcodeOffset)): it names an arbitrary callable through copyreg; Kiln only builds tensors and plain containers",
                                location: "pickle \(source)", offset: opcodeOffset)
            case 0x97, 0x98: // NEXT_BUFFER, READONLY_BUFFER
                throw fail("out-of-band buffers (pickle protocol 5 NEXT_BUFFER) are not used by torch.save and are not supported")
            case UInt8(ascii: "S"), UInt8(ascii: "V"):
                throw fail("protocol 0 quoted strings (STRING/UNICODE) are not used by torch.save and are not supported")
            default:
                throw fail("unknown pickle opcode 0x\(String(opcode, radix: 16))")
            }
        }
    }

    mutating func setItems(_ dict: Int, _ items: [PickleValue]) throws {
        guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number (\(items.count)) of keys and values") }
        for i in stride(from: 0, to: items.count, by: 2) {
            try setItem(dict, items[i], items[i + 1])
        }
    }
}
