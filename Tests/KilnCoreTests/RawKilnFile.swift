import Foundation
import KilnCore
import TestSupport

/// Builds `.kiln` bytes field by field, independently of `KilnWriter`, so tests can make files
/// that break any one rule while every other field (and the header checksum) stays valid.
struct RawKilnFile {
    var magic: [UInt8] = Array("KILN".utf8)
    var byteOrderMark: UInt32 = 0x0A0B_0C0D
    var major: UInt16 = 1
    var minor: UInt16 = 0
    var flags: UInt32 = 0
    /// The data section (starts at offset 64).
    var data: [UInt8] = []
    /// The header bytes; build with the `Header` helpers.
    var header = Header()
    /// Overrides for the preamble's header offset/length (normally computed).
    var headerOffsetOverride: UInt64?
    var headerLengthOverride: UInt64?
    var corruptChecksum = false

    struct Header {
        var bytes: [UInt8] = []
        mutating func u8(_ v: UInt8) { bytes.append(v) }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes.append(contentsOf: s.utf8) }
        mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

        /// A tensor record with every field given explicitly.
        mutating func tensor(_ name: String, type: UInt32 = 0, shape: [UInt64], offset: UInt64, stored: UInt64,
                             checksum: UInt64 = 0, compression: UInt8 = 0, filter: UInt8 = 0) {
            string(name)
            u32(type)
            u32(UInt32(shape.count))
            for d in shape { u64(d) }
            u64(offset)
            u64(stored)
            u64(checksum)
            u8(compression)
            u8(filter)
        }
    }

    func bytes() -> [UInt8] {
        var file: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { file.append(contentsOf: $0) } }
        let dataEnd = 64 + data.count
        let headerOffset = (dataEnd + 63) / 64 * 64
        file.append(contentsOf: magic)
        put(byteOrderMark)
        put(major)
        put(minor)
        put(flags)
        put(headerOffsetOverride ?? UInt64(headerOffset))
        put(headerLengthOverride ?? UInt64(header.bytes.count))
        file.append(contentsOf: [UInt8](repeating: 0, count: 24))
        var hasher = XXH64()
        file.withUnsafeBytes { hasher.update($0) }
        header.bytes.withUnsafeBytes { hasher.update($0) }
        put(hasher.digest() ^ (corruptChecksum ? 1 : 0))
        file.append(contentsOf: data)
        file.append(contentsOf: [UInt8](repeating: 0, count: headerOffset - dataEnd))
        file.append(contentsOf: header.bytes)
        return file
    }

    /// Writes the file and opens it, returning the error `KilnFile` throws (or nil).
    func openError(in directory: String) -> KilnError? {
        openKilnError(bytes(), in: directory)
    }
}

/// Writes `bytes` to a fresh file in `directory`, opens it as `.kiln`, and returns the error
/// (nil when it opened).
func openKilnError(_ bytes: [UInt8], in directory: String) -> KilnError? {
    let path = directory + "/case-\(UUID().uuidString).kiln"
    try? writeFile(path, bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    do {
        _ = try KilnFile(path: path)
        return nil
    } catch let error as KilnError {
        return error
    } catch {
        return KilnError(.io, "unexpected error type: \(error)")
    }
}
