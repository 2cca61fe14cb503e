import KilnCore

/// The legacy `torch.save` format (`_use_new_zipfile_serialization=False`, and everything
/// before PyTorch 1.6): pickles back to back — the magic number 0x1950a86a20f9469cfc6c, the
/// protocol version 1001, a sys_info dict, the object (with 6-tuple persistent ids), the
/// sorted list of storage keys — then each storage in that order as an int64 element count
/// and its raw little-endian bytes (torch writes little-endian whatever the machine).
enum PyTorchLegacyLoader {
    /// PROTO 2, LONG1 of 10 bytes, and the magic number's bytes: how every legacy file begins.
    static let signature: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    static let magic: [UInt8] = Array(signature[4...])
    static let protocolVersion: Int64 = 1001

    static func open(_ mapping: MappedFile) throws -> PyTorchCheckpoint {
        let file = mapping.bytes
        var position = 0

        func runPickle(_ name: String, _ ids: PickleMachine.PersistentIDs) throws -> (PickleValue, PickleMachine) {
            var machine = PickleMachine(UnsafeRawBufferPointer(rebasing: file[position...]), baseOffset: UInt64(position),
                                        source: name, persistentIDs: ids)
            let value = try machine.run()
            position += machine.reader.position
            return (value, machine)
        }

        let (magic, _) = try runPickle("legacy magic number", .refused)
        guard magic == .bigInt(Self.magic) else {
            throw KilnError.malformed("the first pickle is not torch's legacy magic number 0x1950a86a20f9469cfc6c", at: 0)
        }
        let versionOffset = position
        let (version, _) = try runPickle("legacy protocol version", .refused)
        guard version == .int(protocolVersion) else {
            throw KilnError(.unsupported, "legacy protocol version is \(version), Kiln reads \(protocolVersion); re-save the checkpoint with torch.save(obj, path)",
                            offset: UInt64(versionOffset))
        }
        _ = try runPickle("legacy sys_info", .refused)
        let (root, machine) = try runPickle("legacy object", .legacy)
        let keysOffset = position
        let (keysValue, keysMachine) = try runPickle("legacy storage keys", .refused)
        guard case .container(let keysIndex) = keysValue, keysMachine.containers[keysIndex].kind == .list else {
            throw KilnError.malformed("the storage key pickle is \(keysValue.typeName), expected a list of strings", at: UInt64(keysOffset))
        }
        let keys = try keysMachine.containers[keysIndex].items.map { item -> String in
            guard case .string(let key) = item else {
                throw KilnError.malformed("a storage key is \(item.typeName), expected a string", at: UInt64(keysOffset))
            }
            return key
        }
        let tree = try TorchObjectTree(root: root, machine: machine)

        // The storage section: every storage of the object pickle exactly once, in key order.
        var storages: [Int: PyTorchCheckpoint.StorageBytes] = [:]
        for key in keys {
            guard let index = machine.storageIndex[key] else {
                throw KilnError.malformed("storage key '\(key)' is listed but no tensor uses it", at: UInt64(keysOffset), "storage '\(key)'")
            }
            guard storages[index] == nil else {
                throw KilnError.malformed("storage key '\(key)' is listed twice", at: UInt64(keysOffset), "storage '\(key)'")
            }
            let storage = machine.storages[index]
            guard file.count - position >= 8 else {
                throw KilnError.malformed("truncated: storage '\(key)' needs an 8-byte element count but \(file.count - position) bytes remain",
                                          at: UInt64(position), "storage '\(key)'")
            }
            let count = Int64(littleEndian: file.loadUnaligned(fromByteOffset: position, as: Int64.self))
            guard count == Int64(storage.elementCount) else {
                throw KilnError.malformed("storage holds \(count) elements but the pickle declares \(storage.elementCount)",
                                          at: UInt64(position), "storage '\(key)'")
            }
            position += 8
            let length = try Checked.multiply(storage.elementCount, storage.type.blockBytes, "storage '\(key)' size")
            guard length <= file.count - position else {
                throw KilnError.malformed("truncated: storage needs \(length) bytes but \(file.count - position) remain",
                                          at: UInt64(position), "storage '\(key)'")
            }
            storages[index] = .mapped(position..<(position + length))
            position += length
        }
        if let missing = machine.storages.first(where: { storage in !keys.contains(storage.key) }) {
            throw KilnError.malformed("storage '\(missing.key)' is used by a tensor but missing from the storage key list",
                                      at: UInt64(keysOffset), "storage '\(missing.key)'")
        }
        guard position == file.count else {
            throw KilnError.malformed("\(file.count - position) bytes after the last storage", at: UInt64(position))
        }
        return try PyTorchCheckpoint(mapping: mapping, container: .legacy, tree: tree, machine: machine,
                                     storages: storages, byteSwap: false)
    }
}
