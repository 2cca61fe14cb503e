import KilnCore

/// Finds the weights in what `torch.load` would return, and keeps the rest as metadata.
///
/// - A state dict (`{name: tensor}`) gives its tensors under their own names.
/// - A training checkpoint (nanoGPT's `{'model': state_dict, 'optimizer': ..., 'iter_num': 5,
///   'model_args': {...}}`) gives the tensors of its `model` (or `state_dict`,
///   `model_state_dict`) entry; its other tensor-free entries become metadata, and entries that
///   hold tensors (optimizer moments) are left out: they are not the model.
/// - Nested dicts and lists of tensors are flattened with dots (`encoder.layers.0.w`).
/// - `_orig_mod.` (what `torch.compile` prefixes to every name) is removed, as nanoGPT does.
struct TorchObjectTree {
    static let weightKeys = ["model", "state_dict", "model_state_dict"]
    static let compiledPrefix = "_orig_mod."

    var tensors: [(name: String, tensor: Int)] = []
    var metadata: [String: MetadataValue] = [:]

    init(root: PickleValue, machine: PickleMachine) throws {
        let walker = Walker(machine: machine)
        var names = Set<String>()
        var found: [(String, Int)] = []
        var metadata: [String: MetadataValue] = [:]

        if case .container(let index) = root, machine.containers[index].isDict {
            let entries = try walker.entries(index)
            let weights = try Self.weightKeys.lazy.compactMap { key in entries.first { $0.key == key } }
                .first { entry in try walker.holdsTensor(entry.value, depth: 0) }
            if let weights {
                try walker.flatten(weights.value, prefix: "", into: &found, depth: 0)
                for entry in entries where entry.key != weights.key {
                    if try !walker.holdsTensor(entry.value, depth: 0), let value = walker.metadata(entry.value, depth: 0) {
                        metadata[entry.key] = value
                    }
                }
            } else {
                for entry in entries {
                    if try walker.holdsTensor(entry.value, depth: 0) {
                        try walker.flatten(entry.value, prefix: entry.key, into: &found, depth: 1)
                    } else if let value = walker.metadata(entry.value, depth: 0) {
                        metadata[entry.key] = value
                    }
                }
            }
        } else {
            try walker.flatten(root, prefix: "", into: &found, depth: 0)
        }

        for (name, tensor) in found {
            let clean = name.hasPrefix(Self.compiledPrefix) ? String(name.dropFirst(Self.compiledPrefix.count)) : name
            guard names.insert(clean).inserted else {
                throw KilnError.malformed("two tensors are named '\(clean)' (after removing '\(Self.compiledPrefix)')", at: nil, "tensor '\(clean)'")
            }
            tensors.append((clean, tensor))
        }
        self.metadata = metadata
    }

    /// Containers can be shared (the memo lets a pickle put one list in another many times),
    /// so a small pickle can describe an exponentially large tree. In a real checkpoint each
    /// container is reached by one path, so a walk visits each a few times (whether it holds
    /// tensors is remembered); every walk spends from one budget of a few visits per container,
    /// and a graph that needs more is refused at once instead of unfolded.
    final class Budget {
        let visits: Int
        var remaining: Int
        var holdsTensor: [Int: Bool] = [:]

        init(containers: Int) {
            visits = 4 * containers + 4096
            remaining = visits
        }
    }

    struct Walker {
        let machine: PickleMachine
        let budget: Budget

        init(machine: PickleMachine) {
            self.machine = machine
            budget = Budget(containers: machine.containers.count)
        }

        func fail(_ message: String) -> KilnError {
            KilnError.malformed(message, at: nil, "pickle \(machine.source)")
        }

        func spend() throws {
            budget.remaining -= 1
            guard budget.remaining >= 0 else {
                throw fail("the object graph is too large to walk (more than \(budget.visits) visits for \(machine.containers.count) containers: containers shared many times over)")
            }
        }

        /// A dict's entries with their keys as names (state dicts use strings; ints are spelled out).
        func entries(_ index: Int) throws -> [(key: String, value: PickleValue)] {
            let dict = machine.containers[index]
            return try zip(dict.keys, dict.items).map { key, value in
                switch key {
                case .string(let s): return (s, value)
                case .int(let i): return (String(i), value)
                default: throw fail("a dict key is \(key.typeName); tensor names must be strings")
                }
            }
        }

        func holdsTensor(_ value: PickleValue, depth: Int) throws -> Bool {
            guard depth <= PickleMachine.maxDepth else { throw fail("objects nest deeper than \(PickleMachine.maxDepth) levels") }
            switch value {
            case .tensor: return true
            case .container(let index):
                if let known = budget.holdsTensor[index] { return known }
                try spend()
                let c = machine.containers[index]
                let holds = try c.items.contains { try holdsTensor($0, depth: depth + 1) }
                budget.holdsTensor[index] = holds
                return holds
            default: return false
            }
        }

        func flatten(_ value: PickleValue, prefix: String, into found: inout [(String, Int)], depth: Int) throws {
            guard depth <= PickleMachine.maxDepth else { throw fail("objects nest deeper than \(PickleMachine.maxDepth) levels") }
            try spend()
            func join(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }
            switch value {
            case .tensor(let tensor):
                found.append((prefix.isEmpty ? "tensor" : prefix, tensor))
            case .container(let index) where machine.containers[index].isDict:
                for entry in try entries(index) where try holdsTensor(entry.value, depth: depth + 1) {
                    try flatten(entry.value, prefix: join(entry.key), into: &found, depth: depth + 1)
                }
            case .container(let index):
                for (i, item) in machine.containers[index].items.enumerated() where try holdsTensor(item, depth: depth + 1) {
                    try flatten(item, prefix: join(String(i)), into: &found, depth: depth + 1)
                }
            default:
                break
            }
        }

        /// Plain data as metadata; None and anything without a metadata form are dropped.
        /// Nesting is capped well inside the `.kiln` limit of 32 levels.
        func metadata(_ value: PickleValue, depth: Int) -> MetadataValue? {
            guard depth < 16, (try? spend()) != nil else { return nil }
            switch value {
            case .none, .global, .storage, .tensor: return nil
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .bigInt: return nil
            case .float(let f): return .float(f)
            case .string(let s): return .string(s)
            case .bytes(let b): return .bytes(b)
            case .container(let index):
                let c = machine.containers[index]
                if c.isDict {
                    var map: [String: MetadataValue] = [:]
                    for (key, item) in zip(c.keys, c.items) {
                        let name: String
                        switch key {
                        case .string(let s): name = s
                        case .int(let i): name = String(i)
                        case .bool(let b): name = b ? "True" : "False"
                        default: continue
                        }
                        if let v = metadata(item, depth: depth + 1) { map[name] = v }
                    }
                    return .map(map)
                }
                return Self.homogeneous(c.items.compactMap { metadata($0, depth: depth + 1) })
            }
        }

        /// `.kiln` arrays hold one type: Python lists may mix. Ints among floats become floats;
        /// any other mix is dropped rather than misrepresented.
        static func homogeneous(_ items: [MetadataValue]) -> MetadataValue? {
            guard let first = items.first, !items.allSatisfy({ $0.tag == first.tag }) else { return .array(items) }
            if items.allSatisfy({ $0.tag == 2 || $0.tag == 4 }) {
                return .array(items.map { .float($0.doubleValue ?? 0) })
            }
            return nil
        }
    }
}
