/// Parses and validates the preamble, metadata and tensor table of a `.kiln` file
/// (docs/FORMAT.md §3–§7). Nothing here touches tensor data.
struct KilnHeader {
    var major: UInt16
    var minor: UInt16
    var metadata: [String: MetadataValue]
    var tensors: [TensorInfo]

    /// Validates everything a reader must check, in an order that never reads out of bounds.
    static func parse(_ file: UnsafeRawBufferPointer) throws -> KilnHeader {
        let fileSize = file.count
        guard fileSize >= KilnLayout.preambleSize else {
            throw KilnError.malformed("file is \(fileSize) bytes, shorter than the 64-byte .kiln preamble", at: 0)
        }
        var preamble = ByteReader(UnsafeRawBufferPointer(rebasing: file[0..<KilnLayout.preambleSize]))
        let magic = try preamble.readBytes(4, "magic")
        guard magic.elementsEqual(KilnLayout.magic) else {
            throw KilnError.malformed("not a .kiln file: magic is \(hex(magic)), expected 4b494c4e (\"KILN\")", at: 0)
        }
        let mark = try preamble.read(UInt32.self, "byte-order mark")
        guard mark == KilnLayout.byteOrderMark else {
            let hint = mark == KilnLayout.byteOrderMark.byteSwapped ? " (the file is big-endian)" : ""
            throw KilnError.malformed(
                "byte-order mark is 0x\(String(mark, radix: 16)), expected 0x0a0b0c0d\(hint)", at: 4)
        }
        let major = try preamble.read(UInt16.self, "major version")
        let minor = try preamble.read(UInt16.self, "minor version")
        guard major == KilnLayout.majorVersion else {
            throw KilnError(.unsupported, "format version \(major).\(minor) is not supported; this Kiln reads version 1.x", offset: 8)
        }
        let flags = try preamble.read(UInt32.self, "flags")
        guard flags == 0 else {
            throw KilnError(.unsupported, "flags are 0x\(String(flags, radix: 16)); version 1 defines none", offset: 12)
        }
        let headerOffset64 = try preamble.read(UInt64.self, "header offset")
        let headerLength64 = try preamble.read(UInt64.self, "header length")
        try preamble.skip(24, "reserved")
        let storedChecksum = try preamble.read(UInt64.self, "header checksum")

        guard headerOffset64 >= UInt64(KilnLayout.preambleSize), headerOffset64 % UInt64(KilnLayout.headerAlignment) == 0,
              headerOffset64 <= UInt64(fileSize), headerLength64 == UInt64(fileSize) - headerOffset64
        else {
            throw KilnError.malformed(
                "header at offset \(headerOffset64) with length \(headerLength64) does not end at the end of the \(fileSize)-byte file (or is misaligned)",
                at: 16)
        }
        let headerOffset = Int(headerOffset64)
        let header = UnsafeRawBufferPointer(rebasing: file[headerOffset..<fileSize])

        var hasher = XXH64()
        hasher.update(UnsafeRawBufferPointer(rebasing: file[0..<KilnLayout.checksummedPreambleBytes]))
        hasher.update(header)
        let actualChecksum = hasher.digest()
        guard actualChecksum == storedChecksum else {
            throw KilnError(.checksum,
                "header checksum mismatch: stored \(hex64(storedChecksum)), computed \(hex64(actualChecksum)); the preamble or header is corrupt",
                offset: 56)
        }

        var reader = ByteReader(header, baseOffset: headerOffset64)
        let metadataCount = try reader.read(UInt64.self, "metadata count")
        let metadata = try MetadataCodec.decodeEntries(&reader, count: metadataCount, depth: 0, context: "metadata")

        let countOffset = reader.fileOffset
        let tensorCount = try reader.read(UInt64.self, "tensor count")
        // A record is at least 8 (name length) + 1 (name) + 4 + 4 + 8 + 8 + 8 + 1 + 1 bytes.
        guard tensorCount <= UInt64(reader.remaining / 43) else {
            throw KilnError.malformed(
                "tensor count \(tensorCount) cannot fit in the \(reader.remaining) header bytes that remain", at: countOffset)
        }
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(Int(tensorCount))
        var names = Set<String>()
        for _ in 0..<tensorCount {
            let info = try readTensorRecord(&reader, dataEnd: headerOffset)
            guard names.insert(info.name).inserted else {
                throw KilnError.malformed("duplicate tensor name", at: nil, "tensor '\(info.name)'")
            }
            tensors.append(info)
        }
        guard reader.isAtEnd else {
            throw KilnError.malformed("\(reader.remaining) unexpected bytes after the tensor table", at: reader.fileOffset)
        }
        try checkNoOverlap(tensors)
        return KilnHeader(major: major, minor: minor, metadata: metadata, tensors: tensors)
    }

    private static func readTensorRecord(_ reader: inout ByteReader, dataEnd: Int) throws -> TensorInfo {
        let recordOffset = reader.fileOffset
        let name = try reader.readString("tensor name")
        let place = "tensor '\(name)'"
        do {
            guard !name.isEmpty else { throw KilnError.malformed("tensor name is empty", at: recordOffset) }
            let typeOffset = reader.fileOffset
            let typeID = try reader.read(UInt32.self, "type")
            guard let type = ElementType.withID(typeID) else {
                throw KilnError(.unsupported, "unknown element type id \(typeID)", offset: typeOffset)
            }
            let ndimOffset = reader.fileOffset
            let ndim = try reader.read(UInt32.self, "dimension count")
            guard ndim <= UInt32(KilnLayout.maxDimensions) else {
                throw KilnError.malformed("\(ndim) dimensions, at most \(KilnLayout.maxDimensions) allowed", at: ndimOffset)
            }
            var shape: [Int] = []
            for axis in 0..<Int(ndim) {
                shape.append(try Checked.int(try reader.read(UInt64.self, "dimension \(axis)"), "dimension \(axis)"))
            }
            let lengthOffset = reader.fileOffset
            let length: Int
            do { length = try type.byteCount(shape: shape) } catch let error as KilnError {
                var e = error; e.offset = lengthOffset; throw e
            }
            let offsetField = reader.fileOffset
            let offset = try Checked.int(try reader.read(UInt64.self, "offset"), "offset")
            let storedLength = try Checked.int(try reader.read(UInt64.self, "stored length"), "stored length")
            let checksum = try reader.read(UInt64.self, "checksum")
            let codecOffset = reader.fileOffset
            let codec = try reader.read(UInt8.self, "compression")
            let filterByte = try reader.read(UInt8.self, "filter")
            guard let compression = TensorInfo.Compression(rawValue: codec) else {
                throw KilnError(.unsupported, "unknown compression \(codec)", offset: codecOffset)
            }
            guard let filter = TensorInfo.Filter(rawValue: filterByte) else {
                throw KilnError(.unsupported, "unknown filter \(filterByte)", offset: codecOffset + 1)
            }

            let end = try Checked.add(offset, storedLength, "tensor end")
            guard offset >= KilnLayout.preambleSize, end <= dataEnd else {
                throw KilnError.malformed(
                    "data [\(offset), \(end)) lies outside the data section [64, \(dataEnd))", at: offsetField)
            }
            let alignment = KilnLayout.alignment(forStoredLength: storedLength)
            guard offset % alignment == 0 else {
                throw KilnError.malformed("offset \(offset) is not a multiple of \(alignment)", at: offsetField)
            }
            switch compression {
            case .none:
                guard storedLength == length else {
                    throw KilnError.malformed(
                        "stored length is \(storedLength) bytes but shape \(shape) of \(type.name) needs \(length)", at: offsetField + 8)
                }
                guard filter == .none else {
                    throw KilnError.malformed("filter \(filterByte) on an uncompressed tensor", at: codecOffset + 1)
                }
            case .zstd:
                guard storedLength > 0 else {
                    throw KilnError.malformed("compressed tensor with stored length 0", at: offsetField + 8)
                }
                // No zstd frame expands more than ~32,768-fold: a larger claim would only make
                // us allocate memory the file cannot fill.
                let (limit, overflow) = storedLength.multipliedReportingOverflow(by: 65_536)
                guard overflow || length <= limit else {
                    throw KilnError.malformed(
                        "claims \(length) bytes from \(storedLength) compressed bytes, beyond what zstd can expand", at: offsetField + 8)
                }
                if filter == .byteShuffle, (type.scalarBytes ?? 0) < 2 {
                    throw KilnError.malformed("byte-shuffle filter on type \(type.name), which has no multi-byte elements", at: codecOffset + 1)
                }
            }
            return TensorInfo(
                name: name, type: type, shape: shape, offset: offset, storedLength: storedLength, length: length,
                checksum: checksum, compression: compression, filter: filter)
        } catch let error as KilnError {
            throw error.at(place)
        }
    }

    private static func checkNoOverlap(_ tensors: [TensorInfo]) throws {
        let ranges = tensors.filter { $0.storedLength > 0 }.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.offset < previous.offset + previous.storedLength {
            throw KilnError.malformed(
                "data [\(next.offset), \(next.offset + next.storedLength)) overlaps tensor '\(previous.name)' [\(previous.offset), \(previous.offset + previous.storedLength))",
                at: nil, "tensor '\(next.name)'")
        }
    }
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

func hex64(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
