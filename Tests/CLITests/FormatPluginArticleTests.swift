import Foundation
import Kiln
import TestSupport
import Testing

// The reader and plugin of the "Writing a format plugin" article
// (Sources/Kiln/Kiln.docc/WritingAFormatPlugin.md), compiled against the public API and run on
// files the test writes. Each region between `// snippet` and `// end snippet` must equal the
// article's Swift block of the same rank.

// snippet
/// A toy format: "TOYT", a u32 tensor count, then for each tensor a name (u64 length + UTF-8),
/// rows and columns (u32 each) and the u64 file offset of its f32 values.
final class ToyFile: CheckpointReader, @unchecked Sendable {
    let path: String
    let mapping: MappedFile  // keeps the bytes that tensor views point into alive
    let sourceTensors: [SourceTensor]
    private let offsets: [String: Int]  // where each tensor's values start

    var formatName: String { "toy" }
    var paths: [String] { [path] }
    var metadata: [String: MetadataValue] { [:] }

    init(path: String) throws {
        self.path = path
        mapping = try MappedFile(path: path)
        do {
            var reader = ByteReader(mapping.bytes)
            let magic = try reader.readBytes(4, "magic")
            guard magic.elementsEqual("TOYT".utf8) else {
                throw KilnError(.malformed, "not a toy file: the magic is not TOYT", offset: 0)
            }
            var tensors: [SourceTensor] = [], offsets: [String: Int] = [:]
            for index in 0..<(try reader.read(UInt32.self, "tensor count")) {
                let start = reader.fileOffset
                let name = try reader.readString("tensor \(index) name")
                let rows = Int(try reader.read(UInt32.self, "rows of '\(name)'"))
                let columns = Int(try reader.read(UInt32.self, "columns of '\(name)'"))
                let offset = try reader.read(UInt64.self, "offset of '\(name)'")
                let byteCount = try ElementType.f32.byteCount(shape: [rows, columns])
                guard offset % 4 == 0, offset <= UInt64(mapping.count),
                      byteCount <= mapping.count - Int(offset) else {
                    throw KilnError(.malformed, "\(byteCount) bytes at offset \(offset) are not inside the file, 4-aligned",
                                    location: "tensor '\(name)'", offset: start)
                }
                tensors.append(SourceTensor(name: name, type: .f32, shape: [rows, columns], byteCount: byteCount))
                offsets[name] = Int(offset)
            }
            sourceTensors = tensors
            self.offsets = offsets
        } catch let error as KilnError {
            var located = error
            located.file = path
            throw located
        }
    }

    func data(_ tensor: SourceTensor) throws -> TensorData {
        guard let offset = offsets[tensor.name] else {
            throw KilnError(.usage, "no tensor named '\(tensor.name)'", file: path)
        }
        let bytes = UnsafeRawBufferPointer(rebasing: mapping.bytes[offset..<(offset + tensor.byteCount)])
        return TensorData(bytes: bytes, owner: mapping)  // a view: no copy
    }
}
// end snippet

// snippet
struct ToyFormatPlugin: FormatPlugin {
    var name: String { "toy" }
    var summary: String { "Toy tensor files: a name table and f32 matrices" }
    var fileExtensions: [String] { ["toy"] }

    func sniff(_ prefix: UnsafeRawBufferPointer) -> Bool {
        prefix.starts(with: "TOYT".utf8)
    }

    func open(_ path: String) throws -> any CheckpointReader {
        try ToyFile(path: path)
    }
}
// end snippet

struct FormatPluginArticleTests {
    /// A toy file holding `tensors`, values little-endian f32 after the table.
    static func toyFile(_ tensors: [(String, rows: Int, columns: Int, values: [Float])]) -> [UInt8] {
        var table: [UInt8] = Array("TOYT".utf8)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { table += $0 } }
        append(UInt32(tensors.count))
        let tableSize = 8 + tensors.reduce(0) { $0 + 8 + $1.0.utf8.count + 16 }
        var dataOffset = (tableSize + 3) / 4 * 4
        var data: [UInt8] = []
        for (name, rows, columns, values) in tensors {
            append(UInt64(name.utf8.count))
            table += Array(name.utf8)
            append(UInt32(rows))
            append(UInt32(columns))
            append(UInt64(dataOffset))
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data += $0 } }
            dataOffset += values.count * 4
        }
        return table + [UInt8](repeating: 0, count: (tableSize + 3) / 4 * 4 - tableSize) + data
    }

    @Test func toyFilesConvertToKiln() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("weights.toy"), kilnPath = directory.file("weights.kiln")
        let a: [Float] = (0..<6).map { Float($0) * 0.5 - 1 }, b: [Float] = [3.25, -0.125]
        try Data(Self.toyFile([("a", 2, 3, a), ("b", 1, 2, b)])).write(to: URL(fileURLWithPath: path))

        let plugin = ToyFormatPlugin()
        let prefix = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(64)
        #expect(prefix.withUnsafeBytes { plugin.sniff($0) })
        // snippet
        let model = try CanonicalModel(reader: try ToyFormatPlugin().open(path))
        try Conversion.toKiln(model, output: kilnPath)
        // end snippet
        #expect(model.warnings.contains { $0.contains("unknown architecture") })
        let kiln = try KilnFile(path: kilnPath)
        #expect(Array(try kiln.floats("a")) == a)
        #expect(Array(try kiln.floats("b")) == b)
        #expect(kiln.tensor(named: "a")?.shape == [2, 3])
    }

    @Test func badToyFilesNameTheProblem() throws {
        let directory = TemporaryDirectory()
        let good = Self.toyFile([("weights", 2, 2, [1, 2, 3, 4])])
        let truncated = directory.file("truncated.toy"), outside = directory.file("outside.toy")
        try Data(good.prefix(10)).write(to: URL(fileURLWithPath: truncated))
        try Data(good.dropLast(4)).write(to: URL(fileURLWithPath: outside))

        let short = try #require(throws: KilnError.self) { try ToyFile(path: truncated) }
        #expect(short.kind == .malformed && short.file == truncated && short.offset == 8)
        #expect(short.description.contains("tensor 0 name"))
        let beyond = try #require(throws: KilnError.self) { try ToyFile(path: outside) }
        #expect(beyond.location == "tensor 'weights'" && beyond.offset == 8)
    }

    @Test func articleMatchesTheseSnippets() throws {
        let article = try String(contentsOfFile: Repository.path("Sources/Kiln/Kiln.docc/WritingAFormatPlugin.md"), encoding: .utf8)
        let snippets = GettingStartedTests.snippets(in: try String(contentsOfFile: #filePath, encoding: .utf8))
        let blocks = GettingStartedTests.blocks(in: article)
        #expect(blocks.count == snippets.count, "\(blocks.count) Swift blocks in the article, \(snippets.count) snippets here")
        for (index, (block, snippet)) in zip(blocks, snippets).enumerated() {
            #expect(block == snippet, "article block \(index + 1) differs from snippet \(index + 1)")
        }
    }
}
