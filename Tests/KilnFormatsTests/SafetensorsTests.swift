import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// The safetensors reader against files written (and read back) by the reference Python
/// `safetensors` library: Tools/make_fixtures.py → Fixtures/safetensors/*.expected.json.
struct SafetensorsTests {
    static let fixtures = ["all_dtypes", "bf16", "unaligned", "tiny_gpt2"]

    static let dtypeNames: [String: String] = [
        "F64": "f64", "F32": "f32", "F16": "f16", "BF16": "bf16", "I64": "i64", "I32": "i32", "I16": "i16",
        "I8": "i8", "U64": "u64", "U32": "u32", "U16": "u16", "U8": "u8", "BOOL": "bool",
    ]

    @Test(arguments: fixtures)
    func everyTensorMatchesTheLibrary(_ fixture: String) throws {
        let expected = try readJSON(Repository.fixture("safetensors/\(fixture).expected.json"))
        let file = try SafetensorsFile(path: Repository.fixture("safetensors/\(fixture).safetensors"))
        let tensors = try #require(expected["tensors"]?.objectValue)
        #expect(file.sourceTensors.count == tensors.count)
        for tensor in file.sourceTensors {
            let reference = try #require(tensors[tensor.name], "unexpected tensor \(tensor.name)")
            #expect(tensor.type.name == Self.dtypeNames[reference["dtype"]?.stringValue ?? ""], "\(tensor.name)")
            #expect(tensor.shape == reference["shape"]?.arrayValue?.compactMap(\.intValue), "\(tensor.name)")
            let data = try file.data(tensor)
            #expect(hexString(data.bytes) == reference["hex"]?.stringValue, "\(tensor.name)")
        }
        let metadata = try #require(expected["metadata"]?.objectValue)
        #expect(file.metadata == metadata.mapValues { .string($0.stringValue ?? "") })
    }

    /// Every tensor in the unaligned fixture can be had at an address aligned for its type,
    /// with the same bytes; aligned ones are not copied.
    @Test func unalignedTensorsAreCopiedOnlyWhenNeeded() throws {
        let file = try SafetensorsFile(path: Repository.fixture("safetensors/unaligned.safetensors"))
        var copies = 0
        for tensor in file.sourceTensors {
            let view = try file.data(tensor)
            let aligned = try file.alignedData(tensor)
            let alignment = tensor.type.scalarBytes ?? 1
            #expect(Array(view.bytes) == Array(aligned.bytes))
            if tensor.byteCount > 0 { #expect(Int(bitPattern: aligned.bytes.baseAddress!) % alignment == 0, "\(tensor.name)") }
            if aligned.bytes.baseAddress != view.bytes.baseAddress { copies += 1 }
        }
        #expect(copies > 0, "the fixture has misaligned tensors")
        #expect(copies < file.sourceTensors.count, "aligned (u8) tensors are views")
    }

    static let malformed: [(String, String)] = [
        ("header_len_exceeds_file", "only"),
        ("header_len_2pow63", "more than the format's limit"),
        ("json_not_object", "expected a JSON object"),
        ("offsets_past_end", "truncated"),
        ("offsets_end_before_begin", "ends before it begins"),
        ("size_mismatch", "needs 24"),
        ("overlapping_tensors", "overlaps the previous tensor"),
        ("unknown_dtype", "unknown dtype \"F8_E9M9\""),
        ("metadata_non_string", "allows only strings"),
        ("shape_overflow", "overflows"),
        ("truncated", "truncated"),
        ("duplicate_tensor_name", "duplicate key \"a\""),
        ("trailing_bytes", "after the last tensor"),
        ("file_too_short", "8-byte header length"),
        ("header_not_utf8", "UTF-8"),
    ]

    @Test(arguments: malformed)
    func malformedFilesAreRejected(_ name: String, _ expected: String) throws {
        let path = Repository.fixture("malformed/\(name).safetensors")
        #expect(FileManager.default.fileExists(atPath: path))
        do {
            _ = try SafetensorsFile(path: path)
            Issue.record("\(name) was accepted")
        } catch let error as KilnError {
            #expect(error.description.contains(expected), "\(name): \(error)")
            #expect(error.file == path, "the error names the file")
        }
    }

    /// Cutting a valid file anywhere gives an error, never a crash.
    @Test func everyTruncationIsRejected() throws {
        let bytes = try readFile(Repository.fixture("safetensors/all_dtypes.safetensors"))
        let directory = TemporaryDirectory()
        for length in stride(from: 0, to: bytes.count, by: 7) {
            let path = directory.file("cut.safetensors")
            try writeFile(path, Array(bytes[0..<length]))
            #expect(throws: KilnError.self, "cut at \(length)") { try SafetensorsFile(path: path) }
        }
    }

    @Test func registryRecognisesFormatsBySniffing() throws {
        #expect(try FormatRegistry.detect(Repository.fixture("safetensors/tiny_gpt2.safetensors")).name == "safetensors")
        let directory = TemporaryDirectory()
        let renamed = directory.file("model.bin")
        try writeFile(renamed, try readFile(Repository.fixture("safetensors/tiny_gpt2.safetensors")))
        #expect(try FormatRegistry.detect(renamed).name == "safetensors", "magic bytes win over the extension")
        let junk = directory.file("junk.dat")
        try writeFile(junk, Array("hello world, not a model".utf8))
        #expect(throws: KilnError.self) { try FormatRegistry.detect(junk) }
    }
}
