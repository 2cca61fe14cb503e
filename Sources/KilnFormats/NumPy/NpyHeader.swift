import KilnCore

/// An `.npy` header (numpy/lib/_format_impl.py): `\x93NUMPY`, major and minor version, the
/// header length (u16 in version 1, u32 in 2 and 3), then a Python dict literal with `descr`,
/// `fortran_order` and `shape`, padded with spaces and ended by a newline. Version 3 differs
/// from 2 only in the header's encoding (UTF-8 instead of latin-1).
struct NpyHeader {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// numpy refuses headers over 10,000 bytes unless told otherwise; Kiln allows more but
    /// stops well before a length field could make it read or allocate much.
    static let maxHeaderLength = 1 << 20

    let version: Int
    let type: ElementType
    /// The descr as written, e.g. `<f4`, `>i8`, `|b1`.
    let descr: String
    let byteSwap: Bool
    let fortranOrder: Bool
    let shape: [Int]
    /// Bytes from the start of the file (or member) to the first data byte.
    let dataOffset: Int
    /// Element count × item size.
    let byteCount: Int

    /// Bytes needed to learn the header length.
    static let preambleLength = 12

    /// The total header length from the first bytes: the number of bytes `parse` needs.
    static func headerEnd(_ prefix: UnsafeRawBufferPointer, baseOffset: UInt64) throws -> Int {
        guard prefix.count >= 10, prefix.starts(with: magic) else {
            throw KilnError.malformed("not an .npy array: it does not start with \\x93NUMPY", at: baseOffset)
        }
        let major = prefix[6], minor = prefix[7]
        guard (1...3).contains(major), minor == 0 else {
            throw KilnError(.unsupported, ".npy version \(major).\(minor) is not supported (1.0, 2.0 and 3.0 are)", offset: baseOffset + 6)
        }
        if major == 1 {
            return 10 + Int(UInt16(littleEndian: prefix.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
        }
        guard prefix.count >= 12 else { throw KilnError.malformed("truncated: the version \(major) header length needs 4 bytes", at: baseOffset + 8) }
        let length = Int(UInt32(littleEndian: prefix.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        guard length <= maxHeaderLength else {
            throw KilnError.malformed("header length \(length) is more than the \(maxHeaderLength) bytes Kiln accepts", at: baseOffset + 8)
        }
        return 12 + length
    }

    /// Parses the header; `bytes` must hold at least `headerEnd` bytes. `available` is the
    /// size of the whole array (file or member), which must be exactly header + data.
    init(_ bytes: UnsafeRawBufferPointer, baseOffset: UInt64, available: Int) throws {
        let end = try Self.headerEnd(bytes, baseOffset: baseOffset)
        guard end <= bytes.count, end <= available else {
            throw KilnError.malformed("truncated: the header claims \(end) bytes but only \(min(bytes.count, available)) exist", at: baseOffset + 8)
        }
        version = Int(bytes[6])
        let textStart = version == 1 ? 10 : 12
        let raw = UnsafeRawBufferPointer(rebasing: bytes[textStart..<end])
        let text: String
        if version == 3 {
            guard let utf8 = ByteReader.validatedUTF8(raw) else {
                throw KilnError.malformed("version 3 header is not valid UTF-8", at: baseOffset + UInt64(textStart))
            }
            text = utf8
        } else {
            text = String(String.UnicodeScalarView(raw.map { Unicode.Scalar($0) })) // latin-1
        }
        var parser = PythonLiteralParser(text, baseOffset: baseOffset + UInt64(textStart))
        guard case .dict(let entries) = try parser.parseDocument() else {
            throw KilnError.malformed("header is not a dict literal", at: baseOffset + UInt64(textStart), "npy header")
        }
        func field(_ key: String) throws -> PythonLiteral {
            guard let value = entries.first(where: { $0.key == key })?.value else {
                throw KilnError.malformed("header has no '\(key)'", at: baseOffset + UInt64(textStart), "npy header")
            }
            return value
        }
        guard entries.count == 3 else {
            throw KilnError.malformed("header has keys \(entries.map(\.key)); expected exactly descr, fortran_order and shape",
                                      at: baseOffset + UInt64(textStart), "npy header")
        }
        guard case .bool(let fortran) = try field("fortran_order") else {
            throw KilnError.malformed("fortran_order is not True or False", at: baseOffset + UInt64(textStart), "npy header")
        }
        guard case .tuple(let dims) = try field("shape") else {
            throw KilnError.malformed("shape is not a tuple", at: baseOffset + UInt64(textStart), "npy header")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .int(let d) = dim, d >= 0, let value = Int(exactly: d) else {
                throw KilnError.malformed("shape \(dims.count)-tuple has a dimension that is not a non-negative integer", at: baseOffset + UInt64(textStart), "npy header")
            }
            shape.append(value)
        }
        let descrValue = try field("descr")
        guard case .string(let descr) = descrValue else {
            throw KilnError(.unsupported,
                            "descr is \(descrValue.typeName): structured (record) arrays are not tensors and are not supported",
                            location: "npy header", offset: baseOffset + UInt64(textStart))
        }
        let (type, swap) = try Self.elementType(descr, offset: baseOffset + UInt64(textStart))
        self.descr = descr
        self.type = type
        self.byteSwap = swap
        self.fortranOrder = fortran
        self.shape = shape
        self.dataOffset = end
        self.byteCount = try type.byteCount(shape: shape)
        guard available - end == byteCount else {
            throw KilnError.malformed(
                available - end < byteCount
                    ? "truncated: shape \(shape) of \(descr) needs \(byteCount) data bytes but \(available - end) follow the header"
                    : "shape \(shape) of \(descr) needs \(byteCount) data bytes but \(available - end) follow the header (\(available - end - byteCount) extra)",
                at: baseOffset + UInt64(end), "npy data")
        }
    }

    /// numpy dtype strings: byte order (`<` little, `>` big, `|` not applicable, `=` native),
    /// kind and item size.
    static func elementType(_ descr: String, offset: UInt64) throws -> (ElementType, byteSwap: Bool) {
        let chars = Array(descr)
        guard chars.count >= 2, "<>|=".contains(chars[0]) else {
            throw KilnError.malformed("descr '\(descr)' is not a numpy dtype string", at: offset, "npy header")
        }
        let kind = chars[1], size = String(chars[2...])
        let type: ElementType?
        switch (kind, size) {
        case ("f", "2"): type = .f16
        case ("f", "4"): type = .f32
        case ("f", "8"): type = .f64
        case ("i", "1"): type = .i8
        case ("i", "2"): type = .i16
        case ("i", "4"): type = .i32
        case ("i", "8"): type = .i64
        case ("u", "1"): type = .u8
        case ("u", "2"): type = .u16
        case ("u", "4"): type = .u32
        case ("u", "8"): type = .u64
        case ("b", "1"): type = .bool
        case ("O", _):
            throw KilnError(.unsupported, "descr '\(descr)' is an object array: its elements are pickled Python objects, which Kiln refuses to load",
                            location: "npy header", offset: offset)
        default: type = nil
        }
        guard let type else {
            throw KilnError(.unsupported, "dtype '\(descr)' is not supported (numeric f2/f4/f8, i1–i8, u1–u8 and b1 are)",
                            location: "npy header", offset: offset)
        }
        // Kiln runs on little-endian machines only, so '=' is '<'.
        return (type, chars[0] == ">" && type.blockBytes > 1)
    }
}
