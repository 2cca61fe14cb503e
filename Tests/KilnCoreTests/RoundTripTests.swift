import Foundation
import KilnCore
import TestSupport
import Testing

/// What `KilnWriter` writes, `KilnFile` reads back identically: every element type, awkward
/// shapes, every metadata value type and nesting, raw and compressed storage.
struct RoundTripTests {
    static let plainShapes: [[Int]] = [[], [0], [0, 3], [1], [17], [3, 5, 7], [2, 1, 3], [1000]]
    /// Shapes for a block type of `block` values per block (32 for q4_0…, 256 for the K-quants).
    static func blockShapes(_ block: Int) -> [[Int]] { [[block], [0, block], [3, 2 * block], [2, 3, 3 * block]] }

    static let richMetadata: [String: MetadataValue] = [
        "general.architecture": "llama",
        "a.bool.true": true,
        "a.bool.false": false,
        "a.int.min": .int(.min),
        "a.int.max": .int(.max),
        "a.uint.max": .uint(.max),
        "a.float": .float(-1.5e-300),
        "a.float.nan.bits": .float(Double(bitPattern: 0x7FF8_0000_0000_0001)),
        "a.float.negzero": .float(-0.0),
        "a.string.empty": "",
        "a.string.unicode": "héllo 世界 🔥 \u{0}nul",
        "a.bytes": .bytes([0, 1, 2, 255]),
        "a.bytes.empty": .bytes([]),
        "a.array.empty": .array([]),
        "a.array.ints": [1, 2, 3],
        "a.array.strings": ["Ġthe", "", "<|im_start|>"],
        "a.array.nested": .array([.array([1, 2]), .array(["x"]), .array([])]),
        "a.array.maps": .array([["k": 1], ["k": "v", "z": [true]]]),
        "model.config": ["layers": 30, "rope": ["base": 100000.0, "scaling": ["type": "linear", "factor": 2.0]]],
    ]

    static func cases() -> [(ElementType, [Int])] {
        ElementType.registry.flatMap { type in
            (type.blockElements == 1 ? plainShapes : blockShapes(type.blockElements)).map { (type, $0) }
        }
    }

    @Test(arguments: [KilnWriter.Storage.raw, .zstd(level: 3)])
    func everyTypeAndShape(storage: KilnWriter.Storage) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("round.kiln")
        var random = SeededRandom(seed: 42)
        var written: [(name: String, type: ElementType, shape: [Int], bytes: [UInt8])] = []
        let writer = try KilnWriter(path: path)
        writer.metadata = Self.richMetadata
        for (type, shape) in Self.cases() {
            let name = "\(type.name).\(shape.map(String.init).joined(separator: "x"))"
            let count = try type.byteCount(shape: shape)
            // Compressible content (small values), so the compressed path is really taken.
            var bytes = random.bytes(count).map { $0 & 0x0F }
            if type == .bool { bytes = bytes.map { $0 & 1 } }
            try bytes.withUnsafeBytes { _ = try writer.add(name: name, type: type, shape: shape, bytes: $0, storage: storage) }
            written.append((name, type, shape, bytes))
            #expect(!FileManager.default.fileExists(atPath: path), "the final name must not exist before finish()")
        }
        try writer.finish()

        let file = try KilnFile(path: path)
        #expect(file.metadata == Self.richMetadata)
        #expect(file.tensors.count == written.count)
        for expected in written {
            let info = try #require(file.tensor(named: expected.name))
            #expect(info.type == expected.type)
            #expect(info.shape == expected.shape)
            #expect(Array(try file.bytes(info)) == expected.bytes, "\(expected.name)")
            #expect(info.offset % 64 == 0)
        }
        if storage != .raw {
            #expect(file.tensors.contains { $0.compression == .zstd }, "some tensors should have compressed")
        }
        let report = file.verify()
        #expect(report.isSound, "\(report.failures.map { $0.error.description })")
        #expect(directory.contents == ["round.kiln"], "no temporary file may be left behind")
    }

    @Test func plainTypesDequantizeToTheirValues() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("values.kiln")
        let values: [Float] = [0, 1, -2, 3.5, 100, -128, 127]
        let writer = try KilnWriter(path: path)
        func add<T>(_ name: String, _ type: ElementType, _ items: [T]) throws {
            try items.withUnsafeBytes { _ = try writer.add(name: name, type: type, shape: [items.count], bytes: $0) }
        }
        try add("f32", .f32, values)
        try add("f64", .f64, values.map(Double.init))
        try add("i8", .i8, values.map { Int8($0) })
        try add("i16", .i16, values.map { Int16($0) })
        try add("i32", .i32, values.map { Int32($0) })
        try add("i64", .i64, values.map { Int64($0) })
        try add("f16", .f16, values.map(HalfPrecision.halfFromFloat))
        try add("bf16", .bf16, values.map(HalfPrecision.bfloatFromFloat))
        try add("u8", .u8, values.map { UInt8(abs($0)) })
        try writer.finish()
        let file = try KilnFile(path: path)
        for name in ["f32", "f64", "i8", "i16", "i32", "i64", "f16", "bf16"] {
            #expect(try file.dequantized(name) == values.map { $0 == 3.5 && name.hasPrefix("i") ? 3 : $0 }, "\(name)")
        }
        #expect(try file.dequantized("u8") == values.map { abs($0) == 3.5 ? 3 : abs($0) })
        #expect(Array(try file.floats("f32")) == values)
        #expect(Array(try file.halfBits("f16")) == values.map(HalfPrecision.halfFromFloat))
        #expect(throws: KilnError.self) { try file.floats("f16") }
    }

    /// Tensors of 1 MiB or more start on a 16 KiB boundary; smaller ones on 64 bytes.
    @Test func largeTensorsArePageAligned() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("aligned.kiln")
        let writer = try KilnWriter(path: path)
        let small = [UInt8](repeating: 1, count: 100)
        let large = [UInt8](repeating: 2, count: 1 << 20)
        try small.withUnsafeBytes { _ = try writer.add(name: "a", type: .u8, shape: [100], bytes: $0) }
        try large.withUnsafeBytes { _ = try writer.add(name: "b", type: .u8, shape: [1 << 20], bytes: $0) }
        try small.withUnsafeBytes { _ = try writer.add(name: "c", type: .u8, shape: [100], bytes: $0) }
        try writer.finish()
        let file = try KilnFile(path: path)
        #expect(try file.info("a").offset == 64)
        #expect(try file.info("b").offset % 16_384 == 0)
        #expect(try file.info("c").offset % 64 == 0)
        #expect(try file.info("c").offset == (try file.info("b").offset) + (1 << 20), "small tensors follow without a page gap")
        // Views point into the mapping: no copy was made.
        let view = try file.bytes("b")
        let mapping = file.mapping.bytes
        #expect(view.baseAddress! == mapping.baseAddress! + (try file.info("b").offset))
    }

    @Test func abandonedWriterLeavesNothing() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("never.kiln")
        do {
            let writer = try KilnWriter(path: path)
            try [UInt8](repeating: 0, count: 8).withUnsafeBytes { _ = try writer.add(name: "x", type: .f32, shape: [2], bytes: $0) }
            #expect(throws: KilnError.self) {
                try [UInt8](repeating: 0, count: 7).withUnsafeBytes { _ = try writer.add(name: "y", type: .f32, shape: [2], bytes: $0) }
            }
            #expect(directory.contents.count == 1, "the temporary file exists while writing")
        }
        #expect(directory.contents.isEmpty, "dropping an unfinished writer removes its temporary file")
    }

    @Test func writerRejectsDuplicatesAndBadShapes() throws {
        let directory = TemporaryDirectory()
        let writer = try KilnWriter(path: directory.file("bad.kiln"))
        let four = [UInt8](repeating: 0, count: 4)
        try four.withUnsafeBytes { _ = try writer.add(name: "x", type: .f32, shape: [1], bytes: $0) }
        #expect(throws: KilnError.self) { try four.withUnsafeBytes { _ = try writer.add(name: "x", type: .f32, shape: [1], bytes: $0) } }
        #expect(throws: KilnError.self) { try four.withUnsafeBytes { _ = try writer.add(name: "", type: .f32, shape: [1], bytes: $0) } }
        #expect(throws: KilnError.self) { try four.withUnsafeBytes { _ = try writer.add(name: "q", type: .q8_0, shape: [2], bytes: $0) } }
        writer.abandon()
        #expect(directory.contents.isEmpty)
    }
}
