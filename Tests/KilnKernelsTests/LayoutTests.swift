import Foundation
import KilnCore
import KilnKernels
import TestSupport
import Testing

/// The interleaved layouts (docs/FORMAT.md §7.4): byte positions, padding, round trips, and
/// decoding through the registry.
struct LayoutTests {
    /// A hand-built example of the spec: row r's block at column c has d = bytes (r, c) and quant
    /// byte j = 16·r + j; the group block must hold the d fields row by row, then 4-byte chunks
    /// chunk-major, row-minor.
    @Test func q4_0x8BytePositionsFollowTheSpec() {
        let rows = 8, cols = 64
        var source: [UInt8] = []
        for r in 0..<rows { for c in 0..<2 { source += [UInt8(r), UInt8(c)] + (0..<16).map { UInt8(16 * r + $0) } } }
        let (type, bytes) = source.withUnsafeBytes { Kernels.interleave(.q4_0, rows: rows, cols: cols, data: $0.baseAddress!)! }
        let out = Array(bytes.buffer)
        #expect(type == .q4_0x8 && out.count == 2 * 144)
        for c in 0..<2 {
            let group = Array(out[(c * 144)..<((c + 1) * 144)])
            for r in 0..<8 { #expect(group[2 * r] == UInt8(r) && group[2 * r + 1] == UInt8(c)) }
            for t in 0..<4 { for r in 0..<8 { for j in 0..<4 { #expect(group[16 + (t * 8 + r) * 4 + j] == UInt8(16 * r + 4 * t + j)) } } }
        }
    }

    @Test(arguments: [ElementType.q8_0x8, .q4_0x8, .q4_1x8, .kq4x8, .q5_0x8, .q5_1x8])
    func roundTripAndDecode(type: ElementType) throws {
        var random = SeededRandom(seed: 11)
        for rows in [8, 13, 16, 1, 0] {
            let base = type.interleaving!.base
            let source = TestMatrix.random(base, rows: rows, cols: 96, &random)
            #expect(try type.byteCount(shape: [rows, 96]) == (rows + 7) / 8 * 8 * 3 * base.blockBytes)
            let packed = source.bytes.withUnsafeBytes { raw -> [UInt8] in
                var out = [UInt8](repeating: 0xFF, count: try! type.byteCount(shape: [rows, 96]))
                out.withUnsafeMutableBytes { type.interleaving!.interleave(raw.baseAddress!, rows: rows, cols: 96, into: $0.baseAddress!) }
                return out
            }
            let interleaved = TestMatrix(type: type, rows: rows, cols: 96, bytes: packed)
            #expect(TestMatrix.deinterleaved(interleaved).bytes == source.bytes, "rows \(rows)")
            #expect(interleaved.dequantized() == source.dequantized(), "rows \(rows)")
            // Padding rows are zero bytes.
            let realBytes = rows * 96 / 32 * base.blockBytes
            #expect(packed.count - realBytes == ((rows + 7) / 8 * 8 - rows) * 3 * base.blockBytes)
            if rows % 8 != 0 {
                #expect(packed.filter { $0 != 0 }.count <= realBytes)
            }
            for r in 0..<rows {
                var row = [Float](repeating: .nan, count: 96)
                interleaved.withMatrix { Kernels.dequantizeRow($0, row: r, into: &row) }
                #expect(row == Array(source.dequantized()[(r * 96)..<((r + 1) * 96)]))
            }
        }
    }

    /// `Tools/kiln_read.py` decodes the interleaved types from docs/FORMAT.md §7.4 alone (numpy,
    /// its own code) to the same values as the registry: the spec is complete.
    @Test func independentReaderDecodesInterleavedLayouts() throws {
        let python = try #require(python3(), "python3 with numpy is needed (Tools/requirements-fixtures.txt)")
        let directory = TemporaryDirectory()
        let path = directory.file("interleaved.kiln")
        var random = SeededRandom(seed: 12)
        let writer = try KilnWriter(path: path)
        var expected: [String: [Float]] = [:]
        for (type, shape) in [(ElementType.q8_0x8, [13, 64]), (.q4_0x8, [2, 5, 96]), (.q4_1x8, [16, 32]), (.q4_0x8, [32]),
                              (.kq4x8, [11, 64]), (.q5_0x8, [9, 96]), (.q5_1x8, [16, 64])] {
            let matrix = TestMatrix.random(type, rows: shape.dropLast().reduce(1, *), cols: shape.last!, &random)
            let name = "\(type.name).\(shape.map(String.init).joined(separator: "x"))"
            try matrix.bytes.withUnsafeBytes { _ = try writer.add(name: name, type: type, shape: shape, bytes: $0) }
            expected[name] = matrix.dequantized()
        }
        try writer.finish()
        let script = """
            import json, sys
            sys.path.insert(0, sys.argv[1])
            import kiln_read
            f = kiln_read.read(sys.argv[2])
            print(json.dumps({n: f.dequantize(n).astype(float).ravel().tolist() for n in f.tensors}))
            """
        let result = try run(python, ["-c", script, Repository.path("Tools"), path])
        try #require(result.status == 0, "kiln_read.py failed: \(result.stderr)")
        let decoded = try #require(try JSONValue.parse(result.stdout).objectValue)
        #expect(Set(decoded.keys) == Set(expected.keys))
        for (name, values) in expected {
            #expect(decoded[name]?.arrayValue?.compactMap(\.doubleValue).map { Float($0) } == values, "\(name)")
        }
        let file = try KilnFile(path: path)
        for (name, values) in expected { #expect(try file.dequantized(name) == values, "\(name)") }
    }

    @Test func interleaveChoosesOnlyWhereItPays() {
        let bytes = [UInt8](repeating: 0, count: 16 * 34 * 2)
        bytes.withUnsafeBytes { raw in
            #expect(Kernels.interleave(.q8_0, rows: 16, cols: 64, data: raw.baseAddress!)?.0 == .q8_0x8)
            #expect(Kernels.interleave(.q4_1, rows: 9, cols: 32, data: raw.baseAddress!)?.0 == .q4_1x8)
            #expect(Kernels.interleave(.q8_0, rows: 7, cols: 64, data: raw.baseAddress!) == nil)
            #expect(Kernels.interleave(.f32, rows: 16, cols: 64, data: raw.baseAddress!) == nil)
            #expect(Kernels.interleave(.q5_0, rows: 16, cols: 64, data: raw.baseAddress!)?.0 == .q5_0x8)
            #expect(Kernels.interleave(.kq4, rows: 8, cols: 32, data: raw.baseAddress!)?.0 == .kq4x8)
            #expect(Kernels.interleave(.q4_k, rows: 4, cols: 256, data: raw.baseAddress!) == nil)
            #expect(Kernels.deinterleave(.q8_0, rows: 16, cols: 64, data: raw.baseAddress!) == nil)
        }
        #expect(ElementType.q4_0.interleavedVariant == .q4_0x8 && ElementType.f16.interleavedVariant == nil)
    }

    @Test func interleavedTypesNeedTheShapeToDecode() {
        let bytes = [UInt8](repeating: 0, count: 8 * 18)
        bytes.withUnsafeBytes { raw in
            #expect(throws: KilnError.self) { try ElementType.q4_0x8.dequantize(raw, elementCount: 32) }
            #expect((try? ElementType.q4_0x8.dequantize(raw, shape: [1, 32])) == [Float](repeating: 0, count: 32))
            #expect(throws: KilnError.self) { try ElementType.q4_0x8.dequantize(raw, shape: [9, 32]) }
        }
    }
}
