import Foundation
@testable import KilnFormats
import KilnCore
import TestSupport
import Testing

/// The zip reader on archives assembled here, for the ZIP64 paths Python's zipfile does not
/// take for small files (sizes and offsets only in the ZIP64 extra field).
struct ZipArchiveTests {
    static func le16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
    static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    /// One stored member whose central record saturates sizes and offset and carries them in a
    /// ZIP64 extra field; the end record's count and offset are saturated too.
    static func zip64Archive(name: String, data: [UInt8]) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        var file: [UInt8] = le32(0x0403_4B50) + le16(45) + le16(0) + le16(0) + le16(0) + le16(0)
            + le32(0) + le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(nameBytes.count) + le16(0) + nameBytes
        file += data
        let centralOffset = file.count
        let extra = le16(1) + le16(24) + le64(UInt64(data.count)) + le64(UInt64(data.count)) + le64(0)
        let crc = ZipInflater.crc32(data.withUnsafeBytes { $0 })
        file += le32(0x0201_4B50) + le16(45) + le16(45) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc)
            + le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(nameBytes.count) + le16(extra.count) + le16(0)
            + le16(0) + le16(0) + le32(0) + le32(0xFFFF_FFFF) + nameBytes + extra
        let centralSize = file.count - centralOffset
        let zip64End = file.count
        file += le32(0x0606_4B50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
            + le64(1) + le64(1) + le64(UInt64(centralSize)) + le64(UInt64(centralOffset))
        file += le32(0x0706_4B50) + le32(0) + le64(UInt64(zip64End)) + le32(1)
        file += le32(0x0605_4B50) + le16(0) + le16(0) + le16(0xFFFF) + le16(0xFFFF)
            + le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(0)
        return file
    }

    @Test func readsSizesAndOffsetsFromZip64Extras() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("a.zip")
        try writeFile(path, Self.zip64Archive(name: "x/data.bin", data: Array(0..<200)))
        let archive = try ZipArchive(mapping: try MappedFile(path: path))
        let entry = try #require(archive.entry("x/data.bin"))
        #expect(entry.uncompressedSize == 200 && entry.isStored)
        #expect(Array(try archive.verifiedContents(entry).bytes) == Array(0..<200))
    }

    /// Any single changed byte of the archive's structures gives an error or the right bytes.
    @Test func everySingleByteChangeIsHandled() throws {
        let original = Self.zip64Archive(name: "m.npy", data: Array(0..<64))
        let directory = TemporaryDirectory()
        let path = directory.file("m.zip")
        for position in 0..<original.count where position < 45 || position >= 45 + 64 {
            for value: UInt8 in [0x00, 0x7F, 0xFF] {
                var bytes = original
                bytes[position] = value
                try writeFile(path, bytes)
                do {
                    let archive = try ZipArchive(mapping: try MappedFile(path: path))
                    for entry in archive.entries { _ = try archive.verifiedContents(entry) }
                } catch is KilnError {
                    continue
                }
            }
        }
    }
}
