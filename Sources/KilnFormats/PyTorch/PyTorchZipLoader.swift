import KilnCore

/// The zip checkpoint (`torch.save` since 1.6): `<folder>/data.pkl` (the pickle),
/// `<folder>/data/<key>` (one record per storage, stored uncompressed and 64-byte aligned),
/// `<folder>/byteorder`, `<folder>/version`, … The folder is the file's base name when saved
/// to a path and `archive` when saved to a buffer, so it is taken from the archive, as
/// PyTorch's reader does, never assumed.
enum PyTorchZipLoader {
    static func open(_ mapping: MappedFile) throws -> PyTorchCheckpoint {
        let archive = try ZipArchive(mapping: mapping)
        let folder = try pickleFolder(archive)
        let pickleEntry = archive.entry("\(folder)/data.pkl")!
        let pickle = try archive.verifiedContents(pickleEntry)
        // `pickle.bytes` lives only as long as `pickle.owner` (for a deflated member, the inflated
        // copy), and the machine and the tree below read it.
        defer { withExtendedLifetime(pickle.owner) {} }

        var byteSwap = false
        if let entry = archive.entry("\(folder)/byteorder") {
            // "little" or "big": anything longer is refused before it is inflated.
            guard entry.uncompressedSize <= 16 else {
                throw KilnError.malformed("byteorder record holds \(entry.uncompressedSize) bytes, expected 'little' or 'big'",
                                          at: UInt64(entry.dataOffset), "zip member '\(entry.name)'")
            }
            // Decoded while the record's buffer lives (`String(decoding: contents.bytes, …)` on a
            // temporary read freed memory: a deflated record came out as garbage, or SIGSEGV).
            let record = try archive.verifiedContents(entry)
            let text = withExtendedLifetime(record.owner) { String(decoding: record.bytes, as: UTF8.self) }
            switch text {
            case "little": byteSwap = false
            case "big": byteSwap = true
            default:
                throw KilnError.malformed("byteorder record says '\(text.prefix(20))', expected 'little' or 'big'",
                                          at: UInt64(entry.dataOffset), "zip member '\(entry.name)'")
            }
        }

        var machine = PickleMachine(pickle.bytes, baseOffset: pickleEntry.isStored ? UInt64(pickleEntry.dataOffset) : 0,
                                    source: pickleEntry.name, persistentIDs: .zip)
        let root = try withExtendedLifetime(pickle.owner) { try machine.run() }
        let tree = try TorchObjectTree(root: root, machine: machine)

        // Every storage the pickle references must have a record of exactly its size.
        var storages: [Int: PyTorchCheckpoint.StorageBytes] = [:]
        for (index, storage) in machine.storages.enumerated() {
            let name = "\(folder)/data/\(storage.key)"
            guard let entry = archive.entry(name) else {
                throw KilnError.malformed("the pickle references storage '\(storage.key)' but the archive has no record '\(name)'",
                                          at: nil, "storage '\(storage.key)'")
            }
            let expected = try Checked.multiply(storage.elementCount, storage.type.blockBytes, "storage '\(storage.key)' size")
            guard entry.uncompressedSize == expected else {
                throw KilnError.malformed(
                    "record holds \(entry.uncompressedSize) bytes but the pickle declares \(storage.elementCount) × \(storage.type.name) = \(expected)",
                    at: UInt64(entry.dataOffset), "zip member '\(name)'")
            }
            storages[index] = entry.isStored
                ? .mapped(entry.dataOffset..<(entry.dataOffset + entry.compressedSize))
                : .deflated(archive, entry)
        }
        return try PyTorchCheckpoint(mapping: mapping, container: .zip, tree: tree, machine: machine,
                                     storages: storages, byteSwap: byteSwap)
    }

    /// The folder holding `data.pkl`: the first record's folder (as PyTorch decides), or the
    /// only folder with a `data.pkl`.
    static func pickleFolder(_ archive: ZipArchive) throws -> String {
        let candidates = archive.entries.compactMap { entry -> String? in
            let parts = entry.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" ? String(parts[0]) : nil
        }
        if let first = archive.entries.first, let folder = first.name.split(separator: "/").first.map(String.init),
           candidates.contains(folder) {
            return folder
        }
        guard candidates.count == 1 else {
            throw KilnError.malformed(
                candidates.isEmpty
                    ? "a zip archive without '<folder>/data.pkl': not a torch.save checkpoint"
                    : "several folders hold a data.pkl (\(candidates.joined(separator: ", "))); cannot tell which is the checkpoint",
                at: nil)
        }
        return candidates[0]
    }
}
