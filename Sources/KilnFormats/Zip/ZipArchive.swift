import KilnCore

/// A ZIP archive read through its central directory (PKWARE APPNOTE 6.3, with ZIP64), as
/// PyTorch checkpoints and NumPy `.npz` files are. Only the central directory is trusted for
/// sizes: both PyTorch and Python's `zipfile` write local headers whose sizes are zero or
/// 0xFFFFFFFF and put the real ones in the central directory (or a data descriptor).
///
/// Members are not read at open. Stored members are handed out as views into the mapping;
/// deflated ones are inflated by `ZipInflater` on request.
package final class ZipArchive: @unchecked Sendable {
    // Sendable: immutable after init.
    package struct Entry: Sendable {
        package let name: String
        /// 0 = stored, 8 = deflated (the only methods accepted).
        package let method: UInt16
        package let crc32: UInt32
        package let compressedSize: Int
        package let uncompressedSize: Int
        /// Absolute file offset of the member's first data byte (after its local header).
        package let dataOffset: Int
        /// Absolute file offset of the member's central directory record, for error messages.
        package let recordOffset: Int

        package var isStored: Bool { method == 0 }
    }

    package static let stored: UInt16 = 0
    package static let deflated: UInt16 = 8

    package let mapping: MappedFile
    package let entries: [Entry]
    private let index: [String: Int]

    package init(mapping: MappedFile) throws {
        self.mapping = mapping
        let file = mapping.bytes
        let directory = try Self.findCentralDirectory(file)
        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: file[directory.offset..<(directory.offset + directory.size)]),
                                baseOffset: UInt64(directory.offset))
        entries.reserveCapacity(directory.count)
        for number in 0..<directory.count {
            let entry = try Self.readEntry(&reader, number: number, file: file)
            guard index.updateValue(entries.count, forKey: entry.name) == nil else {
                throw KilnError.malformed("the archive holds two members named '\(entry.name)'", at: UInt64(entry.recordOffset), "zip member '\(entry.name)'")
            }
            entries.append(entry)
        }
        self.entries = entries
        self.index = index
    }

    package func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The stored bytes of a member: for a stored member, its contents (no copy).
    package func rawBytes(_ entry: Entry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping.bytes[entry.dataOffset..<(entry.dataOffset + entry.compressedSize)])
    }

    /// A member's contents: a view into the mapping when stored, inflated into owned memory
    /// (and checked against its CRC-32) when deflated.
    package func contents(_ entry: Entry) throws -> TensorData {
        if entry.isStored { return TensorData(bytes: rawBytes(entry), owner: mapping) }
        let owned = try ZipInflater.inflate(rawBytes(entry), entry: entry)
        return TensorData(owned)
    }

    /// A stored member's bytes checked against its CRC-32: for small members that are parsed
    /// (pickles, headers), where a flipped bit should be reported as such.
    package func verifiedContents(_ entry: Entry) throws -> TensorData {
        let data = try contents(entry)
        if entry.isStored {
            let actual = ZipInflater.crc32(data.bytes)
            guard actual == entry.crc32 else {
                throw KilnError(.checksum, "CRC-32 is \(hex32(actual)) but the central directory says \(hex32(entry.crc32))",
                                location: "zip member '\(entry.name)'", offset: UInt64(entry.dataOffset))
            }
        }
        return data
    }

    // MARK: Central directory

    struct Directory {
        var offset: Int
        var size: Int
        var count: Int
    }

    static let endSignature: UInt32 = 0x0605_4B50
    static let zip64EndSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    static let centralSignature: UInt32 = 0x0201_4B50
    static let localSignature: UInt32 = 0x0403_4B50
    /// Smallest central directory record: 46 bytes with an empty name.
    static let centralRecordSize = 46

    /// Finds the end-of-central-directory record: the last signature whose comment length
    /// reaches exactly the end of the file (a comment may itself contain the signature bytes).
    static func findCentralDirectory(_ file: UnsafeRawBufferPointer) throws -> Directory {
        guard file.count >= 22 else {
            throw KilnError.malformed("file is \(file.count) bytes, too short for a ZIP end-of-central-directory record (22)", at: 0)
        }
        var position = file.count - 22
        let lowest = max(0, file.count - 22 - 0xFFFF)
        var found: Int? = nil
        while position >= lowest {
            if file.loadUnaligned(fromByteOffset: position, as: UInt32.self) == endSignature.littleEndian {
                let commentLength = Int(UInt16(littleEndian: file.loadUnaligned(fromByteOffset: position + 20, as: UInt16.self)))
                if position + 22 + commentLength == file.count { found = position; break }
            }
            position -= 1
        }
        guard let end = found else {
            throw KilnError.malformed("no ZIP end-of-central-directory record in the last \(file.count - lowest) bytes (truncated archive?)", at: UInt64(lowest))
        }
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: file[end..<(end + 22)]), baseOffset: UInt64(end))
        _ = try reader.read(UInt32.self, "end record signature")
        let disk = try reader.read(UInt16.self, "disk number")
        let directoryDisk = try reader.read(UInt16.self, "central directory disk")
        _ = try reader.read(UInt16.self, "entries on this disk")
        let count16 = try reader.read(UInt16.self, "entry count")
        let size32 = try reader.read(UInt32.self, "central directory size")
        let offset32 = try reader.read(UInt32.self, "central directory offset")
        var count = UInt64(count16), size = UInt64(size32), offset = UInt64(offset32)
        var multiDisk = disk != 0 || directoryDisk != 0

        // ZIP64: a locator sits just before the end record and points at the ZIP64 end record.
        // PyTorch writes one even for small archives.
        if end >= 20, file.loadUnaligned(fromByteOffset: end - 20, as: UInt32.self) == zip64LocatorSignature.littleEndian {
            var locator = ByteReader(UnsafeRawBufferPointer(rebasing: file[(end - 20)..<end]), baseOffset: UInt64(end - 20))
            _ = try locator.read(UInt32.self, "ZIP64 locator signature")
            let zip64Disk = try locator.read(UInt32.self, "ZIP64 end record disk")
            let recordOffset64 = try locator.read(UInt64.self, "ZIP64 end record offset")
            let disks = try locator.read(UInt32.self, "total disks")
            if zip64Disk != 0 || disks > 1 { multiDisk = true }
            guard recordOffset64 <= UInt64(end - 20), UInt64(end - 20) - recordOffset64 >= 56 else {
                throw KilnError.malformed("ZIP64 end record offset \(recordOffset64) does not leave room for a 56-byte record before the locator at \(end - 20)",
                                          at: UInt64(end - 12))
            }
            let recordOffset = Int(recordOffset64)
            var record = ByteReader(UnsafeRawBufferPointer(rebasing: file[recordOffset..<(recordOffset + 56)]), baseOffset: recordOffset64)
            let signature = try record.read(UInt32.self, "ZIP64 end record signature")
            guard signature == zip64EndSignature else {
                throw KilnError.malformed("expected the ZIP64 end record signature 0x06064b50, found 0x\(String(signature, radix: 16))", at: recordOffset64)
            }
            try record.skip(8 + 2 + 2, "ZIP64 end record size and versions")
            let d1 = try record.read(UInt32.self, "disk number"), d2 = try record.read(UInt32.self, "central directory disk")
            if d1 != 0 || d2 != 0 { multiDisk = true }
            _ = try record.read(UInt64.self, "entries on this disk")
            count = try record.read(UInt64.self, "entry count")
            size = try record.read(UInt64.self, "central directory size")
            offset = try record.read(UInt64.self, "central directory offset")
        }
        guard !multiDisk else {
            throw KilnError(.unsupported, "multi-disk (split) ZIP archives are not supported", offset: UInt64(end))
        }
        guard offset <= UInt64(file.count), size <= UInt64(file.count) - offset else {
            throw KilnError.malformed("central directory [\(offset), +\(size)) lies outside the \(file.count)-byte file", at: UInt64(end))
        }
        // Each record takes at least 46 bytes: a count the directory cannot hold is rejected
        // before anything is allocated for it.
        guard count <= size / UInt64(centralRecordSize) else {
            throw KilnError.malformed("entry count \(count) cannot fit in a \(size)-byte central directory (at least \(centralRecordSize) bytes each)", at: UInt64(end))
        }
        return Directory(offset: Int(offset), size: Int(size), count: Int(count))
    }

    static func readEntry(_ reader: inout ByteReader, number: Int, file: UnsafeRawBufferPointer) throws -> Entry {
        let recordOffset = Int(reader.fileOffset)
        let signature = try reader.read(UInt32.self, "central directory record \(number) signature")
        guard signature == centralSignature else {
            throw KilnError.malformed("central directory record \(number): expected signature 0x02014b50, found 0x\(String(signature, radix: 16))",
                                      at: UInt64(recordOffset))
        }
        try reader.skip(4, "versions")
        let flags = try reader.read(UInt16.self, "flags")
        let method = try reader.read(UInt16.self, "compression method")
        try reader.skip(4, "modification time")
        let crc = try reader.read(UInt32.self, "CRC-32")
        var compressed = UInt64(try reader.read(UInt32.self, "compressed size"))
        var uncompressed = UInt64(try reader.read(UInt32.self, "uncompressed size"))
        let nameLength = Int(try reader.read(UInt16.self, "name length"))
        let extraLength = Int(try reader.read(UInt16.self, "extra field length"))
        let commentLength = Int(try reader.read(UInt16.self, "comment length"))
        try reader.skip(2 + 2 + 4, "disk and attributes")
        var localOffset = UInt64(try reader.read(UInt32.self, "local header offset"))
        let rawName = try reader.readBytes(nameLength, "member name")
        guard let name = ByteReader.validatedUTF8(rawName) else {
            throw KilnError.malformed("central directory record \(number): member name is not valid UTF-8", at: UInt64(recordOffset + 46))
        }
        let location = "zip member '\(name)'"
        var extra = try reader.readBytes(extraLength, "extra field")
        try reader.skip(commentLength, "member comment")

        // ZIP64 extended information (tag 1) holds, in this order, only the fields whose
        // 32-bit slots are saturated.
        while extra.count >= 4 {
            let tag = UInt16(littleEndian: extra.loadUnaligned(as: UInt16.self))
            let length = Int(UInt16(littleEndian: extra.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            guard length <= extra.count - 4 else {
                throw KilnError.malformed("extra field of \(length) bytes overruns the record", at: UInt64(recordOffset), location)
            }
            if tag == 1 {
                var zip64 = ByteReader(UnsafeRawBufferPointer(rebasing: extra[4..<(4 + length)]), baseOffset: UInt64(recordOffset))
                if uncompressed == 0xFFFF_FFFF { uncompressed = try zip64.read(UInt64.self, "ZIP64 uncompressed size") }
                if compressed == 0xFFFF_FFFF { compressed = try zip64.read(UInt64.self, "ZIP64 compressed size") }
                if localOffset == 0xFFFF_FFFF { localOffset = try zip64.read(UInt64.self, "ZIP64 local header offset") }
            }
            extra = UnsafeRawBufferPointer(rebasing: extra[(4 + length)...])
        }

        // Bit 0: traditional encryption; bit 6: strong encryption. Either way the bytes are not the member.
        guard flags & 0x41 == 0 else {
            throw KilnError(.unsupported, "member is encrypted; Kiln reads only unencrypted archives", location: location, offset: UInt64(recordOffset))
        }
        guard method == stored || method == deflated else {
            throw KilnError(.unsupported, "compression method \(method) is not supported (only 0 = stored and 8 = deflated)",
                            location: location, offset: UInt64(recordOffset))
        }
        guard method != stored || compressed == uncompressed else {
            throw KilnError.malformed("stored member has compressed size \(compressed) but uncompressed size \(uncompressed)", at: UInt64(recordOffset), location)
        }
        // Deflate expands at most 1032:1; a larger claim would have Kiln allocate what the file
        // cannot hold, so it is refused here, before anyone trusts the size.
        if method == deflated {
            let (limit, overflow) = (compressed &+ 1).multipliedReportingOverflow(by: UInt64(ZipInflater.maxRatio))
            guard overflow || uncompressed <= limit else {
                throw KilnError.malformed(
                    "declares \(uncompressed) bytes inflated from \(compressed) compressed bytes, more than deflate can expand (\(ZipInflater.maxRatio):1)",
                    at: UInt64(recordOffset), location)
            }
        }
        let compressedSize = try Checked.int(compressed, "\(location) compressed size")
        let uncompressedSize = try Checked.int(uncompressed, "\(location) uncompressed size")

        // The local header's own name and extra lengths decide where the data starts.
        guard localOffset <= UInt64(file.count), UInt64(file.count) - localOffset >= 30 else {
            throw KilnError.malformed("local header offset \(localOffset) is outside the \(file.count)-byte file", at: UInt64(recordOffset + 42), location)
        }
        let local = Int(localOffset)
        var header = ByteReader(UnsafeRawBufferPointer(rebasing: file[local..<(local + 30)]), baseOffset: localOffset)
        let localSignature = try header.read(UInt32.self, "local header signature")
        guard localSignature == Self.localSignature else {
            throw KilnError.malformed("expected a local header signature 0x04034b50, found 0x\(String(localSignature, radix: 16))", at: localOffset, location)
        }
        try header.skip(22, "local header fields")
        let localNameLength = Int(try header.read(UInt16.self, "local name length"))
        let localExtraLength = Int(try header.read(UInt16.self, "local extra length"))
        let dataOffset = local + 30 + localNameLength + localExtraLength
        guard dataOffset <= file.count, compressedSize <= file.count - dataOffset else {
            throw KilnError.malformed("member data [\(dataOffset), +\(compressedSize)) runs past the end of the \(file.count)-byte file",
                                      at: UInt64(local), location)
        }
        // A local name that differs from the central one means two views of the archive disagree.
        guard localNameLength == nameLength,
              UnsafeRawBufferPointer(rebasing: file[(local + 30)..<(local + 30 + nameLength)]).elementsEqual(rawName)
        else {
            throw KilnError.malformed("local header name differs from the central directory's", at: UInt64(local + 30), location)
        }
        return Entry(name: name, method: method, crc32: crc, compressedSize: compressedSize, uncompressedSize: uncompressedSize,
                     dataOffset: dataOffset, recordOffset: recordOffset)
    }
}

func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
