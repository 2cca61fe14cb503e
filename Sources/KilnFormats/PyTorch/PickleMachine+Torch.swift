import KilnCore

/// What the allow-listed globals do, implemented here rather than imported.
extension PickleMachine {
    /// REDUCE: `callable(*args)`.
    mutating func call(_ callable: PickleValue, _ argsValue: PickleValue, opcode: String) throws -> PickleValue {
        guard case .global(let global) = callable else { throw fail("\(opcode) on a \(callable.typeName), which is not callable") }
        let args = try tupleItems(argsValue, "\(opcode) arguments")
        switch global {
        case .orderedDict:
            guard args.isEmpty else { throw fail("OrderedDict(...) with arguments is not supported (torch.save writes OrderedDict())") }
            return try newContainer(.orderedDict)
        case .rebuildTensorV2:
            return try rebuildTensor(args)
        case .rebuildParameter:
            // _rebuild_parameter(data, requires_grad, backward_hooks): the parameter is its data.
            guard args.count == 3, case .tensor = args[0] else {
                throw fail("_rebuild_parameter needs (tensor, requires_grad, backward_hooks), got \(args.count) arguments")
            }
            try requireNoHooks(args[2])
            return args[0]
        case .codecsEncode:
            // Protocol 2 pickles Python 3 bytes as _codecs.encode(str, 'latin1').
            guard args.count == 2, case .string(let text) = args[0], case .string(let encoding) = args[1],
                  ["latin1", "latin-1", "iso-8859-1"].contains(encoding.lowercased())
            else { throw fail("_codecs.encode is supported only as encode(str, 'latin1')") }
            var bytes: [UInt8] = []
            for scalar in text.unicodeScalars {
                guard scalar.value <= 0xFF else { throw fail("_codecs.encode: '\(scalar)' is not latin-1") }
                bytes.append(UInt8(scalar.value))
            }
            return .bytes(bytes)
        case .storageClass(let name, _):
            throw fail("calling \(name)(...) is not supported: storages reach a checkpoint through persistent ids")
        }
    }

    /// NEWOBJ, INST, OBJ: `cls.__new__(cls, *args)`; only OrderedDict qualifies.
    mutating func instantiate(_ cls: PickleValue, _ argsValue: PickleValue, opcode: String) throws -> PickleValue {
        guard case .global(let global) = cls else { throw fail("\(opcode) on a \(cls.typeName), which is not a class") }
        guard global == .orderedDict else {
            throw refuse(global.qualifiedName, "\(opcode) at byte \(opcodeOffset): only OrderedDict may be instantiated")
        }
        guard try tupleItems(argsValue, "\(opcode) arguments").isEmpty else { throw fail("\(opcode) OrderedDict with arguments is not supported") }
        return try newContainer(.orderedDict)
    }

    /// Backward hooks are Python callables: a checkpoint carrying any is refused (torch itself
    /// warns they are not serialised).
    func requireNoHooks(_ value: PickleValue) throws {
        if case .none = value { return }
        let index = try container(value, "backward_hooks")
        guard containers[index].isDict, containers[index].items.isEmpty else {
            throw fail("backward_hooks must be an empty OrderedDict")
        }
    }

    func intValue(_ value: PickleValue, _ what: String) throws -> Int {
        guard case .int(let v) = value, let i = Int(exactly: v) else { throw fail("\(what) must be an integer, found \(value.typeName)") }
        return i
    }

    /// BINPERSID: a persistent id naming a storage.
    mutating func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        let expected: Int
        switch persistentIDs {
        case .refused:
            throw fail("a persistent id (BINPERSID) in a plain pickle: only torch.save checkpoints reference storages")
        case .zip: expected = 5
        case .legacy: expected = 6
        }
        let items = try tupleItems(pid, "persistent id")
        guard items.count == expected, case .string("storage") = items[0] else {
            throw fail("persistent id must be ('storage', storage_type, key, location, numel\(expected == 6 ? ", view_metadata" : "")), got a \(items.count)-tuple")
        }
        guard case .global(.storageClass(let className, let type)) = items[1] else {
            throw fail("persistent id storage type is \(items[1].typeName), expected a torch storage class")
        }
        guard case .string(let key) = items[2] else { throw fail("persistent id key must be a string, found \(items[2].typeName)") }
        let numel = try intValue(items[4], "storage numel")
        guard numel >= 0 else { throw fail("storage '\(key)' has negative numel \(numel)") }
        if expected == 6, items[5] != .none {
            throw KilnError(.unsupported, "storage '\(key)' is a view of another storage (pre-1.0 torch.save); re-save the checkpoint with a current torch: torch.save(torch.load(path), path)",
                            location: "pickle \(source)", offset: opcodeOffset)
        }
        if let existing = storageIndex[key] {
            guard storages[existing].type == type, storages[existing].elementCount == numel else {
                throw fail("storage '\(key)' appears as \(storages[existing].type.name) × \(storages[existing].elementCount) and as \(className) × \(numel)")
            }
            return .storage(existing)
        }
        storages.append(StorageRef(key: key, type: type, elementCount: numel))
        storageIndex[key] = storages.count - 1
        return .storage(storages.count - 1)
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    /// The window must lie inside the storage; offset and strides count elements.
    mutating func rebuildTensor(_ args: [PickleValue]) throws -> PickleValue {
        guard args.count == 6 || args.count == 7 else {
            throw fail("_rebuild_tensor_v2 takes 6 or 7 arguments, got \(args.count)")
        }
        guard case .storage(let storage) = args[0] else { throw fail("_rebuild_tensor_v2: first argument is \(args[0].typeName), expected a storage") }
        let offset = try intValue(args[1], "storage_offset")
        let shape = try tupleItems(args[2], "size").map { try intValue($0, "size") }
        let strides = try tupleItems(args[3], "stride").map { try intValue($0, "stride") }
        try requireNoHooks(args[5])
        guard shape.count == strides.count else { throw fail("size has \(shape.count) dimensions but stride has \(strides.count)") }
        guard shape.count <= Self.maxDimensions else { throw fail("\(shape.count) dimensions; at most \(Self.maxDimensions) are supported") }
        guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            throw fail("negative storage_offset, size or stride: offset \(offset), size \(shape), stride \(strides)")
        }
        var count = 1
        for d in shape { count = try Checked.multiply(count, d, "element count of size \(shape)") }
        let storageCount = storages[storage].elementCount
        // Even an empty tensor's offset must lie in its storage: views are sliced from it.
        guard offset <= storageCount else {
            throw fail("storage_offset \(offset) is past the end of storage '\(storages[storage].key)', which has \(storageCount) elements")
        }
        if count > 0 {
            // The last element the window touches must lie inside the storage.
            var last = offset
            for (d, s) in zip(shape, strides) {
                last = try Checked.add(last, try Checked.multiply(d - 1, s, "extent of size \(shape) stride \(strides)"), "extent")
            }
            guard last < storageCount else {
                throw fail("tensor of size \(shape), stride \(strides) at offset \(offset) reaches element \(last) of storage '\(storages[storage].key)', which has \(storageCount)")
            }
        }
        tensors.append(TensorRef(storage: storage, storageOffset: offset, shape: shape, strides: strides))
        return .tensor(tensors.count - 1)
    }
}
