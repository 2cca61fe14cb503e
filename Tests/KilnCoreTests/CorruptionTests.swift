import Foundation
import KilnCore
import TestSupport
import Testing

/// Damaged and hostile `.kiln` files: each gives a `KilnError` naming the place, never a crash,
/// a hang, or an allocation sized by a number in the file.
struct CorruptionTests {
    /// A small valid file with metadata, raw and compressed tensors.
    static func sampleFile(in directory: TemporaryDirectory) throws -> String {
        let path = directory.file("sample.kiln")
        let writer = try KilnWriter(path: path)
        writer.metadata = ["general.name": "sample", "list": [1, 2, 3], "nested": ["a": ["b": true]]]
        let floats = (0..<300).map { Float($0) * 0.25 }
        try floats.withUnsafeBytes { _ = try writer.add(name: "raw", type: .f32, shape: [3, 100], bytes: $0) }
        try floats.withUnsafeBytes { _ = try writer.add(name: "packed", type: .f32, shape: [300], bytes: $0, storage: .zstd(level: 3)) }
        try [UInt8](repeating: 7, count: 34).withUnsafeBytes { _ = try writer.add(name: "q", type: .q8_0, shape: [32], bytes: $0) }
        try writer.finish()
        return path
    }

    static func openError(_ bytes: [UInt8], in directory: TemporaryDirectory) -> KilnError? {
        openKilnError(bytes, in: directory.path)
    }

    @Test func everyFlippedHeaderByteIsDetected() throws {
        let directory = TemporaryDirectory()
        let original = try readFile(try Self.sampleFile(in: directory))
        let headerOffset = Int(original.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self) })
        let positions = Array(0..<64) + Array(headerOffset..<original.count)
        for position in positions {
            var damaged = original
            damaged[position] ^= 0x10
            let error = Self.openError(damaged, in: directory)
            #expect(error != nil, "flipping byte \(position) went unnoticed")
            #expect(error?.file != nil, "error must name the file")
        }
    }

    @Test func flippedDataBytesAreNamedByVerify() throws {
        let directory = TemporaryDirectory()
        let path = try Self.sampleFile(in: directory)
        let file = try KilnFile(path: path)
        let original = try readFile(path)
        for info in file.tensors {
            var damaged = original
            damaged[info.offset + info.storedLength / 2] ^= 0x01
            let copy = directory.file("damaged-\(info.name).kiln")
            try writeFile(copy, damaged)
            let report = try KilnFile(path: copy).verify()
            #expect(report.failures.map(\.tensor) == [info.name])
            #expect(report.failures.first?.error.description.contains("tensor '\(info.name)'") == true)
        }
    }

    @Test func everyTruncationIsRejected() throws {
        let directory = TemporaryDirectory()
        let original = try readFile(try Self.sampleFile(in: directory))
        for length in 0..<original.count {
            #expect(Self.openError(Array(original[0..<length]), in: directory) != nil, "truncated to \(length) bytes")
        }
    }

    /// Files whose header checksum is valid but whose contents break one rule each.
    @Test(arguments: HostileCase.all)
    func hostileHeaders(_ hostile: HostileCase) throws {
        let directory = TemporaryDirectory()
        let error = try #require(hostile.file.openError(in: directory.path), "\(hostile.name) was accepted")
        #expect(error.description.contains(hostile.expected), "\(hostile.name): \(error)")
    }

    @Test func overlappingTensorsAreRejected() throws {
        var file = RawKilnFile()
        file.data = [UInt8](repeating: 0, count: 256)
        file.header.u64(0)
        file.header.u64(2)
        file.header.tensor("a", shape: [32], offset: 64, stored: 128)
        file.header.tensor("b", shape: [32], offset: 128, stored: 128)
        let directory = TemporaryDirectory()
        let error = try #require(file.openError(in: directory.path))
        #expect(error.description.contains("overlaps tensor 'a'"))
        #expect(error.location == "tensor 'b'")
    }
}

struct HostileCase: Sendable, CustomTestStringConvertible {
    let name: String
    let expected: String
    let file: RawKilnFile
    var testDescription: String { name }

    static func make(_ name: String, _ expected: String, _ edit: (inout RawKilnFile) -> Void) -> HostileCase {
        var file = RawKilnFile()
        file.data = [UInt8](repeating: 0, count: 128)
        edit(&file)
        return HostileCase(name: name, expected: expected, file: file)
    }

    /// A header with no metadata and the given tensor records.
    static func tensors(_ body: (inout RawKilnFile.Header) -> Void, count: UInt64 = 1) -> RawKilnFile.Header {
        var header = RawKilnFile.Header()
        header.u64(0)
        header.u64(count)
        body(&header)
        return header
    }

    static let all: [HostileCase] = [
        make("bad magic", "not a .kiln file") { $0.magic = Array("GGUF".utf8) },
        make("big-endian mark", "big-endian") { $0.byteOrderMark = 0x0D0C_0B0A },
        make("major version 2", "version 2.0 is not supported") { $0.major = 2; $0.header = tensors({ _ in }, count: 0) },
        make("flags set", "flags") { $0.flags = 1; $0.header = tensors({ _ in }, count: 0) },
        make("checksum wrong", "header checksum mismatch") { $0.corruptChecksum = true; $0.header = tensors({ _ in }, count: 0) },
        make("header past end", "does not end at the end") { $0.headerLengthOverride = 1 << 40 },
        make("header offset misaligned", "misaligned") { $0.headerOffsetOverride = 100 },
        make("2^60 metadata entries", "claims 1152921504606846976 entries") { $0.header.u64(1 << 60) },
        make("2^60 tensors", "tensor count 1152921504606846976") { $0.header = tensors({ _ in }, count: 1 << 60) },
        make("2^40-byte string", "claims 1099511627776 bytes") {
            $0.header.u64(1); $0.header.u64(1 << 40); $0.header.raw([0x61])
        },
        make("2^60 array elements", "claims 1152921504606846976 elements") {
            $0.header.u64(1); $0.header.string("k"); $0.header.u8(7); $0.header.u8(2); $0.header.u64(1 << 60)
        },
        make("unknown metadata tag", "unknown metadata tag 99") {
            $0.header.u64(1); $0.header.string("k"); $0.header.u8(99)
        },
        make("bool byte 2", "bool byte is 2") {
            $0.header.u64(1); $0.header.string("k"); $0.header.u8(1); $0.header.u8(2); $0.header.u64(0)
        },
        make("invalid UTF-8 key", "not valid UTF-8") {
            $0.header.u64(1); $0.header.u64(2); $0.header.raw([0xC3, 0x28]); $0.header.u8(1); $0.header.u8(0); $0.header.u64(0)
        },
        make("duplicate metadata key", "duplicate key 'k'") {
            $0.header.u64(2)
            $0.header.string("k"); $0.header.u8(2); $0.header.u64(1)
            $0.header.string("k"); $0.header.u8(2); $0.header.u64(2)
            $0.header.u64(0)
        },
        make("nesting 40 deep", "nests deeper than 32") {
            $0.header.u64(1); $0.header.string("k")
            for _ in 0..<40 { $0.header.u8(8); $0.header.u64(1); $0.header.string("k") }
            $0.header.u8(2); $0.header.u64(0)
            $0.header.u64(0)
        },
        make("unknown type id", "unknown element type id 999") {
            $0.header = tensors({ $0.tensor("t", type: 999, shape: [1], offset: 64, stored: 4) })
        },
        make("too many dimensions", "at most 8 allowed") {
            $0.header = tensors({ $0.tensor("t", shape: [UInt64](repeating: 1, count: 9), offset: 64, stored: 4) })
        },
        make("shape product overflows", "overflows") {
            $0.header = tensors({ $0.tensor("t", shape: [1 << 40, 1 << 40, 1 << 40], offset: 64, stored: 4) })
        },
        make("dimension above Int.max", "larger than this machine can address") {
            $0.header = tensors({ $0.tensor("t", shape: [UInt64.max], offset: 64, stored: 4) })
        },
        make("offset past the data section", "outside the data section") {
            $0.header = tensors({ $0.tensor("t", shape: [32], offset: 1 << 30, stored: 128) })
        },
        make("offset + length overflows", "overflows") {
            $0.header = tensors({ $0.tensor("t", type: 20, shape: [8], offset: UInt64(Int.max) - 3, stored: 8) })
        },
        make("offset inside the preamble", "outside the data section") {
            $0.header = tensors({ $0.tensor("t", shape: [4], offset: 0, stored: 16) })
        },
        make("misaligned offset", "is not a multiple of 64") {
            $0.header = tensors({ $0.tensor("t", shape: [4], offset: 68, stored: 16) })
        },
        make("stored length mismatch", "needs 16") {
            $0.header = tensors({ $0.tensor("t", shape: [4], offset: 64, stored: 20) })
        },
        make("block type with ragged row", "multiple of 32") {
            $0.header = tensors({ $0.tensor("t", type: 64, shape: [33], offset: 64, stored: 34) })
        },
        make("unknown compression", "unknown compression 7") {
            $0.header = tensors({ $0.tensor("t", shape: [4], offset: 64, stored: 16, compression: 7) })
        },
        make("shuffle on a byte type", "byte-shuffle filter on type u8") {
            $0.header = tensors({ $0.tensor("t", type: 20, shape: [4], offset: 64, stored: 4, compression: 1, filter: 1) })
        },
        make("compression ratio beyond zstd", "beyond what zstd can expand") {
            $0.header = tensors({ $0.tensor("t", type: 20, shape: [1 << 40], offset: 64, stored: 64, compression: 1) })
        },
        make("empty tensor name", "tensor name is empty") {
            $0.header = tensors({ $0.tensor("", shape: [4], offset: 64, stored: 16) })
        },
        make("duplicate tensor name", "duplicate tensor name") {
            $0.header = tensors({ $0.tensor("t", shape: [4], offset: 64, stored: 16); $0.tensor("t", shape: [4], offset: 128, stored: 16) }, count: 2)
        },
        make("trailing header bytes", "unexpected bytes after the tensor table") {
            $0.header = tensors({ _ in }, count: 0); $0.header.raw([0, 0, 0])
        },
    ]
}
