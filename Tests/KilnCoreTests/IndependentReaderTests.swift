import Foundation
import KilnCore
import TestSupport
import Testing

/// `Tools/kiln_read.py` was written from docs/FORMAT.md alone (numpy only). If it reads what
/// `KilnWriter` writes — every tensor byte, every checksum, every metadata value — the spec is
/// complete enough to implement from.
struct IndependentReaderTests {
    @Test(arguments: [KilnWriter.Storage.raw, .zstd(level: 5)])
    func pythonReaderAgrees(storage: KilnWriter.Storage) throws {
        let python = try #require(python3(), "python3 with numpy is needed (Tools/requirements-fixtures.txt)")
        let directory = TemporaryDirectory()
        let path = directory.file("independent.kiln")
        var random = SeededRandom(seed: 3)
        let writer = try KilnWriter(path: path)
        writer.metadata = RoundTripTests.richMetadata
        var written: [String: [UInt8]] = [:]
        for (type, shape) in RoundTripTests.cases() {
            let name = "\(type.name)/\(shape.map(String.init).joined(separator: "x"))"
            var bytes = random.bytes(try type.byteCount(shape: shape)).map { $0 & 0x3F }
            if type == .bool { bytes = bytes.map { $0 & 1 } }
            try bytes.withUnsafeBytes { _ = try writer.add(name: name, type: type, shape: shape, bytes: $0, storage: storage) }
            written[name] = bytes
        }
        // One tensor big enough for the 16 KiB alignment rule.
        let big = (0..<(1 << 18)).map { Float($0 % 1000) * 0.5 }
        try big.withUnsafeBytes { _ = try writer.add(name: "big", type: .f32, shape: [512, 512], bytes: $0, storage: storage) }
        written["big"] = big.withUnsafeBytes { Array($0) }
        try writer.finish()

        let result = try run(python, [Repository.path("Tools/kiln_read.py"), path, "--json"])
        try #require(result.status == 0, "kiln_read.py failed: \(result.stderr)")
        let json = try JSONValue.parse(result.stdout)
        #expect(json["major"] == .int(1))
        #expect(json["minor"] == .int(0))

        let file = try KilnFile(path: path)
        let metadata = try #require(json["metadata"]?.objectValue)
        #expect(metadata == file.metadata.mapValues(Self.typed))

        let tensors = try #require(json["tensors"]?.arrayValue)
        #expect(tensors.count == written.count)
        for tensor in tensors {
            let name = try #require(tensor["name"]?.stringValue)
            let info = try file.info(name)
            #expect(tensor["type"]?.stringValue == info.type.name, "\(name)")
            #expect(tensor["shape"]?.arrayValue?.compactMap(\.intValue) == info.shape, "\(name)")
            #expect(tensor["offset"]?.intValue == info.offset, "\(name)")
            #expect(tensor["stored_length"]?.intValue == info.storedLength, "\(name)")
            #expect(tensor["checksum"]?.stringValue == Self.hex64(info.checksum), "\(name)")
            #expect(tensor["checksum_ok"] == .bool(true), "\(name)")
            #expect(tensor["hex"]?.stringValue == hexString(written[name]!), "\(name)")
        }
    }

    /// The typed JSON encoding kiln_read.py prints for a metadata value.
    static func typed(_ value: MetadataValue) -> JSONValue {
        func wrap(_ type: String, _ inner: JSONValue) -> JSONValue { .object(["type": .string(type), "value": inner]) }
        switch value {
        case .bool(let b): return wrap("bool", .bool(b))
        case .int(let v): return wrap("int", .int(v))
        case .uint(let v): return wrap("uint", v <= UInt64(Int64.max) ? .int(Int64(v)) : .uint(v))
        case .float(let v): return wrap("float", .string(hex64(v.bitPattern)))
        case .string(let s): return wrap("string", .string(s))
        case .bytes(let b): return wrap("bytes", .string(hexString(b)))
        case .array(let items): return wrap("array", .array(items.map(typed)))
        case .map(let entries): return wrap("map", .object(entries.mapValues(typed)))
        }
    }

    static func hex64(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
