import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// The GGUF reader against files written and read back by gguf-py (Tools/make_gguf_fixtures.py
/// → Fixtures/gguf/*.expected.json): layout, metadata with its types, raw tensor bytes, and
/// every dequantised value bit for bit.
struct GGUFTests {
    static let fixtures = ["all_types", "kquants", "aligned64", "v2"]

    @Test(arguments: fixtures)
    func everyTensorMatchesGGUFPy(_ fixture: String) throws {
        let expected = try readJSON(Repository.fixture("gguf/\(fixture).expected.json"))
        let file = try GGUFFile(path: Repository.fixture("gguf/\(fixture).gguf"))
        #expect(file.formatName == "gguf")
        #expect(Int(file.version) == expected["version"]?.intValue)
        #expect(file.alignment == expected["alignment"]?.intValue)
        #expect(file.dataOffset == expected["data_offset"]?.intValue)

        let references = try #require(expected["tensors"]?.arrayValue)
        #expect(file.sourceTensors.map(\.name) == references.compactMap { $0["name"]?.stringValue }, "tensors in data order")
        for (tensor, reference) in zip(file.sourceTensors, references) {
            let name = tensor.name
            #expect(tensor.type.name == reference["kiln_type"]?.stringValue, "\(name)")
            #expect(tensor.shape == reference["shape"]?.arrayValue?.compactMap(\.intValue), "\(name)")
            #expect(tensor.byteCount == reference["n_bytes"]?.intValue, "\(name)")

            let data = try file.data(tensor)
            let offset = try #require(reference["offset"]?.intValue)
            #expect(data.bytes.baseAddress == file.mapping.bytes.baseAddress.map { $0 + offset }, "\(name) is a view into the mapping")
            #expect(hexString(data.bytes) == reference["raw_hex"]?.stringValue, "\(name): raw bytes")

            let values = try tensor.type.dequantize(data.bytes, elementCount: tensor.elementCount)
            let want = bytesFromHex(try #require(reference["values_hex"]?.stringValue))
            let got = values.withUnsafeBytes { Array($0) }
            #expect(got.count == want.count, "\(name): value count")
            if let index = Self.firstDifference(got, want) {
                Issue.record("\(name): value \(index) is \(Self.bits(got, index)), gguf-py gives \(Self.bits(want, index))")
            }
        }
    }

    @Test(arguments: fixtures)
    func metadataMatchesGGUFPy(_ fixture: String) throws {
        let expected = try readJSON(Repository.fixture("gguf/\(fixture).expected.json"))
        let file = try GGUFFile(path: Repository.fixture("gguf/\(fixture).gguf"))
        let references = try #require(expected["metadata"]?.objectValue)
        #expect(Set(file.metadata.keys) == Set(references.keys))
        for (key, reference) in references {
            #expect(file.metadata[key] == (try Self.metadataValue(reference)), "\(key)")
        }
    }

    /// All value kinds really are in the fixture, so the comparison above covers them.
    @Test func allTypesFixtureCoversEveryValueKind() throws {
        let file = try GGUFFile(path: Repository.fixture("gguf/all_types.gguf"))
        #expect(file.metadata["test.uint64"] == .uint(.max))
        #expect(file.metadata["test.int64"] == .int(.min))
        #expect(file.metadata["test.int8"] == .int(-128))
        #expect(file.metadata["test.bool.true"] == .bool(true))
        #expect(file.metadata["test.string.empty"] == "")
        #expect(file.metadata["test.float32.snan"] == .float(Double(bitPattern: 0xFFF0_0000_2000_0000)), "signalling NaN kept")
        #expect(file.metadata["test.array.empty"] == .array([]))
        #expect(file.metadata["test.array.nested3"] == .array([.array([.array([.uint(1)]), .array([.uint(2), .uint(3)])]), .array([])]))
        #expect(file.metadata["general.architecture"] == "llama")
    }

    // MARK: Malformed files

    static let malformed: [(String, String)] = [
        ("truncated_header", "truncated: tensor count"),
        ("truncated_metadata", "metadata key 'test.dup_b': truncated: UINT32 value needs 4 bytes but only 2 remain"),
        ("truncated_tensor_info", "tensor 'b': truncated: tensor type"),
        ("truncated_data", "tensor 'b': data [384, 418) lies past the end of the file (394 bytes; truncated?)"),
        ("tensor_offset_past_end", "tensor 'b': data"),
        ("tensor_count_2pow60", "header claims 1152921504606846976 tensors"),
        ("kv_count_2pow60", "header claims 1152921504606846976 metadata entries"),
        ("string_len_2pow40", "metadata key 'general.name': STRING value claims 1099511627776 bytes"),
        ("array_count_2pow60", "metadata key 'test.array': array of INT32 claims 1152921504606846976 elements"),
        ("alignment_zero", "general.alignment is 0; it must be a non-zero power of two"),
        ("alignment_not_power_of_two", "general.alignment is 48; it must be a non-zero power of two"),
        ("alignment_wrong_type", "general.alignment is UINT64, expected UINT32"),
        ("unknown_tensor_type_99", "tensor 'a': unknown GGUF tensor type 99"),
        ("unsupported_type_iq2_xxs", "tensor 'a': GGUF type IQ2_XXS (16) is not supported"),
        ("shape_overflow", "tensor 'a': element count of shape [1099511627776, 1099511627776] overflows"),
        ("version_1", "GGUF version 1 is not supported"),
        ("version_4", "GGUF version 4 is not supported"),
        ("big_endian", "big-endian GGUF"),
        ("misaligned_offset", "tensor 'b': data offset 40 is not a multiple of the alignment 32"),
        ("overlapping_tensors", "tensor 'b': data [352, 386) overlaps tensor 'a', which ends at 384"),
        ("bool_invalid", "metadata key 'test.bool': BOOL value is 2, expected 0 or 1"),
        ("duplicate_key", "metadata key 'test.dup_a': duplicate metadata key"),
        ("duplicate_tensor_name", "tensor 'a': duplicate tensor name"),
        ("nested_too_deep", "metadata key 'test.deep': arrays nest deeper than 16 levels"),
        ("too_many_dimensions", "tensor 'a': 5 dimensions; GGUF allows at most 4"),
        ("row_not_whole_blocks", "tensor 'a': type q8_0 stores blocks of 32 values"),
    ]

    @Test(arguments: malformed)
    func malformedFilesAreRejected(_ name: String, _ expected: String) throws {
        let path = Repository.fixture("malformed/\(name).gguf")
        #expect(FileManager.default.fileExists(atPath: path))
        do {
            _ = try GGUFFile(path: path)
            Issue.record("\(name) was accepted")
        } catch let error as KilnError {
            #expect(error.description.contains(expected), "\(name): \(error)")
            #expect(error.file == path, "the error names the file")
            #expect(error.offset != nil, "the error names the byte offset: \(error)")
        }
    }

    /// Cutting a valid file anywhere before the end of its last tensor gives an error, never a crash.
    @Test func everyTruncationIsRejected() throws {
        let path = Repository.fixture("gguf/all_types.gguf")
        let bytes = try readFile(path)
        let file = try GGUFFile(path: path)
        let dataEnd = file.sourceTensors.map { try! file.data($0) }.map {
            $0.bytes.baseAddress! - file.mapping.bytes.baseAddress! + $0.bytes.count
        }.max()!
        let directory = TemporaryDirectory()
        let cut = directory.file("cut.gguf")
        for length in stride(from: 0, to: dataEnd, by: 5) {
            try writeFile(cut, Array(bytes[0..<length]))
            #expect(throws: KilnError.self, "cut at \(length)") { try GGUFFile(path: cut) }
        }
        try writeFile(cut, Array(bytes[0..<dataEnd]))
        #expect(try GGUFFile(path: cut).sourceTensors.count == file.sourceTensors.count, "the padding after the last tensor is optional")
    }

    /// Random damage to the header gives a `KilnError` or a file that still opens: never a trap.
    @Test func damagedHeadersNeverCrash() throws {
        let bytes = try readFile(Repository.fixture("gguf/all_types.gguf"))
        let headerEnd = try GGUFFile(path: Repository.fixture("gguf/all_types.gguf")).dataOffset
        let directory = TemporaryDirectory()
        let path = directory.file("damaged.gguf")
        var random = SeededRandom(seed: 7)
        for _ in 0..<300 {
            var damaged = bytes
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                damaged[Int.random(in: 4..<headerEnd, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            try writeFile(path, damaged)
            do { _ = try GGUFFile(path: path) } catch is KilnError {}
        }
    }

    // MARK: Format registry and conversion

    @Test func registryRecognisesGGUF() throws {
        #expect(try FormatRegistry.detect(Repository.fixture("gguf/v2.gguf")).name == "gguf")
        #expect(FormatRegistry.plugin(named: "gguf") != nil)
        let directory = TemporaryDirectory()
        let renamed = directory.file("model.bin")
        try writeFile(renamed, try readFile(Repository.fixture("gguf/kquants.gguf")))
        #expect(try FormatRegistry.detect(renamed).name == "gguf", "magic bytes win over the extension")
        #expect(try FormatRegistry.open(renamed).formatName == "gguf")
        let junk = directory.file("junk.gguf")
        try writeFile(junk, Array("not a model at all".utf8))
        #expect(throws: KilnError.self) { try FormatRegistry.open(junk) }
    }

    /// GGUF → .kiln carries every tensor's bytes unchanged (quantised blocks are not
    /// requantised; matrices written in an interleaved layout are a permutation of the blocks,
    /// and de-interleaved they are the source's bytes) and the GGUF metadata verbatim.
    @Test(arguments: fixtures, [KilnWriter.Storage.raw, .zstd(level: 3)])
    func convertsToKilnByteForByte(_ fixture: String, storage: KilnWriter.Storage) throws {
        let source = Repository.fixture("gguf/\(fixture).gguf")
        let reader = try FormatRegistry.open(source)
        let directory = TemporaryDirectory()
        let output = directory.file("\(fixture).kiln")
        let summary = try Conversion.toKiln(reader, output: output, options: .init(storage: storage))
        #expect(summary.tensors == reader.sourceTensors.count)

        let file = try KilnFile(path: output)
        #expect(file.verify().isSound)
        for tensor in reader.sourceTensors {
            let info = try file.info(tensor.name)
            #expect((info.type.interleaving?.base ?? info.type) == tensor.type, "\(tensor.name)")
            #expect(info.shape == tensor.shape, "\(tensor.name)")
            let original = try reader.data(tensor)
            var stored = Array(try file.bytes(info))
            if let interleaving = info.type.interleaving {
                let rows = tensor.shape.dropLast().reduce(1, *), cols = tensor.shape.last!
                var rowMajor = [UInt8](repeating: 0, count: original.bytes.count)
                stored.withUnsafeBytes { source in
                    rowMajor.withUnsafeMutableBytes { interleaving.deinterleave(source.baseAddress!, rows: rows, cols: cols, into: $0.baseAddress!) }
                }
                stored = rowMajor
            }
            #expect(stored == Array(original.bytes), "\(tensor.name)")
        }
        #expect(file.metadata["source.format"] == "gguf")
        // The source's keys are kept, except those now held canonically (tokenizer, alignment).
        let kept = reader.metadata.filter { !$0.key.hasPrefix("tokenizer.") && $0.key != "general.alignment" }
        #expect(file.metadata["source.metadata"] == .map(kept))
    }

    // MARK: The real model

    static let realModel = Repository.path(".models/SmolLM2-135M-Instruct.Q4_1.gguf")
    static let skipRealModel = ProcessInfo.processInfo.environment["KILN_SKIP_REAL_MODEL"] == "1"

    /// The model file, or nil after recording an issue saying how to get it. Skipped only with
    /// KILN_SKIP_REAL_MODEL=1 (CI downloads it).
    static func requireRealModel() -> String? {
        if FileManager.default.fileExists(atPath: realModel) { return realModel }
        Issue.record("\(realModel) is missing: run Tools/fetch-smollm2.sh (or set KILN_SKIP_REAL_MODEL=1 to skip)")
        return nil
    }

    @Test(.enabled(if: !skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func smolLM2MatchesGGUFPy() throws {
        guard let path = Self.requireRealModel() else { return }
        let expected = try readJSON(Repository.fixture("expected/smollm2.json"))
        let file = try GGUFFile(path: path)
        #expect(file.mapping.count == expected["file_bytes"]?.intValue)
        #expect(Int(file.version) == expected["version"]?.intValue)
        #expect(file.alignment == expected["alignment"]?.intValue)
        #expect(file.dataOffset == expected["data_offset"]?.intValue)
        #expect(file.metadata.count == expected["metadata_count"]?.intValue)

        let tensors = try #require(expected["tensors"]?.arrayValue)
        #expect(file.sourceTensors.count == expected["tensor_count"]?.intValue)
        #expect(file.sourceTensors.count == tensors.count)
        for (tensor, reference) in zip(file.sourceTensors, tensors) {
            let fields = try #require(reference.arrayValue)
            #expect(tensor.name == fields[0].stringValue)
            #expect(tensor.type.name == fields[2].stringValue, "\(tensor.name)")
            #expect(tensor.shape == fields[3].arrayValue?.compactMap(\.intValue), "\(tensor.name)")
        }
        #expect(!file.sourceTensors.contains { $0.name == "output.weight" }, "the head is tied to the embedding")

        for (key, reference) in try #require(expected["metadata"]?.objectValue) {
            #expect(file.metadata[key] == (try Self.metadataValue(reference)), "\(key)")
        }
        for (key, reference) in try #require(expected["arrays"]?.objectValue) {
            let array = try #require(file.metadata[key]?.arrayValue, "\(key)")
            #expect(array.count == reference["count"]?.intValue, "\(key)")
            let first = try #require(reference["first"]?.arrayValue)
            #expect(array.prefix(first.count).map(Self.plainJSON) == first, "\(key)")
            #expect(array.last.map(Self.plainJSON) == reference["last"], "\(key)")
        }

        for (name, reference) in try #require(expected["checked_tensors"]?.objectValue) {
            let tensor = try #require(file.sourceTensors.first { $0.name == name })
            let values = try tensor.type.dequantize(try file.data(tensor).bytes, elementCount: tensor.elementCount)
            #expect(values.count == reference["count"]?.intValue, "\(name)")
            let first = values.prefix(256).withUnsafeBytes { Array($0) }
            let want = bytesFromHex(try #require(reference["first_256_hex"]?.stringValue))
            if let index = Self.firstDifference(first, want) {
                Issue.record("\(name): value \(index) is \(Self.bits(first, index)), gguf-py gives \(Self.bits(want, index))")
            }
            #expect(values.withUnsafeBytes { SHA256.hex($0) } == reference["sha256_f32"]?.stringValue, "\(name): all values")
            // Kahan-compensated, to be within rounding of gguf-py's correctly rounded fsum.
            let (sum, squares) = Self.compensatedSums(values)
            let wantSum = try #require(reference["sum"]?.doubleValue)
            let wantSquares = try #require(reference["sum_of_squares"]?.doubleValue)
            #expect(abs(sum - wantSum) <= 1e-9 * max(1, abs(wantSum)), "\(name): sum \(sum) vs \(wantSum)")
            #expect(abs(squares - wantSquares) <= 1e-9 * max(1, wantSquares), "\(name): sum of squares \(squares) vs \(wantSquares)")
        }
    }

    /// `kiln convert` of the real model keeps every block bit for bit — by default the q4_1/q8_0
    /// matrices regrouped into their interleaved kernel layouts (a permutation of whole blocks),
    /// with `--layout row-major` in the GGUF's own order — and the result verifies.
    @Test(.enabled(if: !skipRealModel, "KILN_SKIP_REAL_MODEL=1"))
    func smolLM2ConvertsToKiln() throws {
        guard let path = Self.requireRealModel() else { return }
        let directory = TemporaryDirectory()
        let output = directory.file("smollm2.kiln"), rowMajorOutput = directory.file("row-major.kiln")
        let result = try run(Repository.executable("kiln"), ["convert", path, "-o", output])
        try #require(result.status == 0, "kiln convert failed: \(result.stderr)")
        let rowMajorResult = try run(Repository.executable("kiln"), ["convert", path, "-o", rowMajorOutput, "--layout", "row-major"])
        try #require(rowMajorResult.status == 0, "kiln convert --layout row-major failed: \(rowMajorResult.stderr)")

        let source = try GGUFFile(path: path)
        let file = try KilnFile(path: output), rowMajor = try KilnFile(path: rowMajorOutput)
        let report = file.verify()
        #expect(report.isSound, "\(report.failures.map { $0.error.description })")
        #expect(file.tensors.count == source.sourceTensors.count && rowMajor.tensors.count == source.sourceTensors.count)
        var interleaved = 0
        for tensor in source.sourceTensors {
            let original = try source.data(tensor).bytes
            let plain = try rowMajor.info(tensor.name)
            #expect(plain.type == tensor.type && plain.shape == tensor.shape, "\(tensor.name) (row-major)")
            let plainBytes = try rowMajor.bytes(plain)
            #expect(plainBytes.count == original.count && memcmp(plainBytes.baseAddress!, original.baseAddress!, original.count) == 0,
                    "\(tensor.name): bytes differ (row-major)")

            let info = try file.info(tensor.name)
            #expect(info.shape == tensor.shape, "\(tensor.name)")
            let stored = try file.bytes(info)
            var converted = [UInt8](stored)
            if let group = info.type.interleaving {
                // Every 2-D q4_1/q8_0 matrix of at least 8 rows is stored interleaved.
                #expect(group.base == tensor.type && tensor.shape.count == 2 && tensor.shape[0] >= group.rows, "\(tensor.name)")
                converted = [UInt8](repeating: 0, count: original.count)
                converted.withUnsafeMutableBytes {
                    group.deinterleave(stored.baseAddress!, rows: tensor.shape[0], cols: tensor.shape[1], into: $0.baseAddress!)
                }
                interleaved += 1
            } else {
                #expect(info.type == tensor.type, "\(tensor.name)")
            }
            #expect(converted == [UInt8](original), "\(tensor.name): bytes differ")
        }
        #expect(interleaved == 211, "every q4_1 and q8_0 matrix interleaved")
        #expect(file.metadata["source.format"] == "gguf")
        #expect(file.metadata["source.metadata"]?.mapValue?["general.architecture"] == "llama")
        #expect(file.metadata["tokenizer.merges"]?.arrayValue?.count == 48_900)
        #expect(file.metadata["tokenizer.tokens"]?.arrayValue?.count == 49_152)
        #expect(file.metadata["tokenizer.pre"] == "smollm")
        let config = try ModelConfig(metadata: try #require(file.metadata["model.config"]))
        #expect(config.layers == 30 && config.embedding == 576 && config.heads == 9 && config.kvHeads == 3)
        #expect(config.feedForward == 1536 && config.ropeBase == 100_000 && config.tiedEmbeddings && config.normEpsilon == Double(Float(1e-5)))
    }

    // MARK: Helpers

    /// The `MetadataValue` for a typed value from an expected.json (`{type, value|bits}`).
    static func metadataValue(_ typed: JSONValue) throws -> MetadataValue {
        func need<T>(_ value: T?) throws -> T {
            guard let value else { throw KilnError(.usage, "unexpected typed value in expected.json: \(typed)") }
            return value
        }
        let value = typed["value"]
        switch try need(typed["type"]?.stringValue) {
        case "UINT8", "UINT16", "UINT32", "UINT64": return .uint(try need(value?.uint64Value))
        case "INT8", "INT16", "INT32", "INT64":
            guard case .int(let v)? = value else { return try need(nil) }
            return .int(v)
        case "BOOL": return .bool(try need(value?.boolValue))
        case "STRING": return .string(try need(value?.stringValue))
        case "FLOAT32": return .float(widenedFloat32(try need(UInt32(try need(typed["bits"]?.stringValue), radix: 16))))
        case "FLOAT64": return .float(Double(bitPattern: try need(UInt64(try need(typed["bits"]?.stringValue), radix: 16))))
        case "ARRAY": return .array(try need(value?.arrayValue).map(metadataValue))
        default: return try need(nil)
        }
    }

    /// f32 bits as the f64 with the same value; NaNs keep sign, payload and quiet bit (written out
    /// field by field, independently of the reader's conversion).
    static func widenedFloat32(_ bits: UInt32) -> Double {
        let exponent = (bits >> 23) & 0xFF
        guard exponent == 0xFF else { return Double(Float(bitPattern: bits)) }
        return Double(bitPattern: UInt64(bits >> 31) << 63 | 0x7FF << 52 | UInt64(bits & 0x7F_FFFF) << 29)
    }

    static func plainJSON(_ value: MetadataValue) -> JSONValue {
        switch value {
        case .string(let s): return .string(s)
        case .int(let v): return .int(v)
        case .uint(let v): return v <= UInt64(Int64.max) ? .int(Int64(v)) : .uint(v)
        default: return .null
        }
    }

    /// The index of the first float32 (4 bytes) that differs, if any.
    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        guard a != b else { return nil }
        let n = min(a.count, b.count) / 4
        for i in 0..<n where a[(4 * i)..<(4 * i + 4)] != b[(4 * i)..<(4 * i + 4)] { return i }
        return n
    }

    static func bits(_ bytes: [UInt8], _ index: Int) -> String {
        guard 4 * index + 4 <= bytes.count else { return "missing" }
        let value = bytes[(4 * index)..<(4 * index + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return "0x" + String(value, radix: 16) + " (\(Float(bitPattern: value)))"
    }

    static func compensatedSums(_ values: [Float]) -> (Double, Double) {
        var sum = 0.0, sumError = 0.0, squares = 0.0, squaresError = 0.0
        for value in values {
            let x = Double(value)
            (sum, sumError) = kahanAdd(sum, sumError, x)
            (squares, squaresError) = kahanAdd(squares, squaresError, x * x)
        }
        return (sum, squares)
    }

    private static func kahanAdd(_ sum: Double, _ error: Double, _ x: Double) -> (Double, Double) {
        let y = x - error
        let t = sum + y
        return (t, (t - sum) - y)
    }
}
