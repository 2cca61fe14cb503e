import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// Checks shared by the format suites: a reader against a `<file>.expected.json` written by
/// Tools/make_format_fixtures.py from what the Python library reads, and conversion to `.kiln`.
enum FixtureChecks {
    /// Every tensor of the reader, bit-exact, with Kiln type name and shape, and no others.
    static func matchesExpected(_ reader: any CheckpointReader, _ expectedPath: String,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try readJSON(expectedPath)
        let tensors = try #require(expected["tensors"]?.objectValue, sourceLocation: sourceLocation)
        #expect(Set(reader.sourceTensors.map(\.name)) == Set(tensors.keys), "tensor names", sourceLocation: sourceLocation)
        for tensor in reader.sourceTensors {
            guard let reference = tensors[tensor.name] else { continue }
            #expect(tensor.type.name == reference["dtype"]?.stringValue, "\(tensor.name) type", sourceLocation: sourceLocation)
            #expect(tensor.shape == reference["shape"]?.arrayValue?.compactMap(\.intValue), "\(tensor.name) shape", sourceLocation: sourceLocation)
            let data = try reader.data(tensor)
            #expect(data.bytes.count == tensor.byteCount, "\(tensor.name) byte count", sourceLocation: sourceLocation)
            let hex = withExtendedLifetime(data.owner) { hexString(data.bytes) }
            #expect(hex == reference["hex"]?.stringValue, "\(tensor.name) bytes", sourceLocation: sourceLocation)
        }
    }

    /// Converting to `.kiln` keeps every tensor identical (as the library read it) and the
    /// source's metadata, and the result verifies.
    static func convertsIdentically(_ reader: any CheckpointReader, _ expectedPath: String,
                                    sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try readJSON(expectedPath)
        let tensors = try #require(expected["tensors"]?.objectValue, sourceLocation: sourceLocation)
        let directory = TemporaryDirectory()
        let output = directory.file("converted.kiln")
        // Conversion writes canonical names: follow each tensor through the canonical mapping.
        let model = try CanonicalModel(reader: reader)
        let summary = try Conversion.toKiln(model, output: output)
        #expect(summary.tensors == model.tensors.count, sourceLocation: sourceLocation)
        let file = try KilnFile(path: output)
        #expect(file.verify().isSound, sourceLocation: sourceLocation)
        var checked = 0
        for tensor in model.tensors where tensor.transform == .none {
            let reference = try #require(tensors[tensor.source.name], "\(tensor.source.name) expected", sourceLocation: sourceLocation)
            let info = try file.info(tensor.name)
            #expect(info.type.name == reference["dtype"]?.stringValue, "\(tensor.name) type", sourceLocation: sourceLocation)
            #expect(info.shape == reference["shape"]?.arrayValue?.compactMap(\.intValue), "\(tensor.name) shape", sourceLocation: sourceLocation)
            #expect(hexString(try file.bytes(info)) == reference["hex"]?.stringValue, "\(tensor.name) bytes", sourceLocation: sourceLocation)
            checked += 1
        }
        #expect(checked > 0, sourceLocation: sourceLocation)
        #expect(file.metadata["source.format"] == .string(reader.formatName), sourceLocation: sourceLocation)
        if !reader.metadata.isEmpty, let carried = file.metadata["source.metadata"] {
            #expect(carried == .map(reader.metadata), sourceLocation: sourceLocation)
        }
    }

    /// Opening `path` fails with a KilnError naming the file and containing `expected`.
    static func rejects(_ path: String, _ expected: String, open: (String) throws -> Any,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(FileManager.default.fileExists(atPath: path), "fixture \(path) exists", sourceLocation: sourceLocation)
        do {
            _ = try open(path)
            Issue.record("\(path) was accepted", sourceLocation: sourceLocation)
        } catch let error as KilnError {
            #expect(error.description.contains(expected), "\(path): \(error)", sourceLocation: sourceLocation)
            #expect(error.file == path, "the error names the file: \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(path): not a KilnError: \(error)", sourceLocation: sourceLocation)
        }
    }

    /// Cutting a valid file at many places gives an error or (where a prefix happens to be
    /// valid) a reader whose tensors can all be read — never a crash.
    static func survivesTruncation(_ source: String, name: String, step: Int, open: (String) throws -> any CheckpointReader,
                                   sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = try readFile(source)
        let directory = TemporaryDirectory()
        let path = directory.file(name)
        for length in stride(from: 0, to: bytes.count, by: step) {
            try writeFile(path, Array(bytes[0..<length]))
            do {
                let reader = try open(path)
                for tensor in reader.sourceTensors { _ = try reader.data(tensor) }
            } catch is KilnError {
                continue
            }
        }
    }

    /// Random byte changes (1–3 bytes each, at seeded positions below `region`) give an error or
    /// a reader whose tensors can all be read — never a crash, a hang or a huge allocation.
    static func survivesMutation(_ source: String, name: String, region: Int, iterations: Int, seed: UInt64,
                                 open: (String) throws -> any CheckpointReader) throws {
        let original = try readFile(source)
        let directory = TemporaryDirectory()
        let path = directory.file(name)
        var random = SeededRandom(seed: seed)
        let limit = min(region, original.count)
        for _ in 0..<iterations {
            var bytes = original
            for _ in 0..<(1 + Int(random.next() % 3)) {
                bytes[Int(random.next() % UInt64(limit))] = UInt8(truncatingIfNeeded: random.next())
            }
            try writeFile(path, bytes)
            do {
                let reader = try open(path)
                for tensor in reader.sourceTensors { _ = try reader.data(tensor) }
            } catch is KilnError {
                continue
            }
        }
    }

    /// Expected-JSON metadata as Kiln metadata: ints, floats, bools, strings, arrays, maps.
    static func metadata(_ json: JSONValue) -> MetadataValue? {
        switch json {
        case .null: return nil
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return .uint(u)
        case .double(let d): return .float(d)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.compactMap(metadata))
        case .object(let o): return .map(o.compactMapValues(metadata))
        }
    }

    static func expectedMetadata(_ expectedPath: String) throws -> [String: MetadataValue] {
        try readJSON(expectedPath)["metadata"]?.objectValue?.compactMapValues(metadata) ?? [:]
    }

    /// Whether a tensor's bytes are a view into `mapping` (zero-copy) rather than a copy.
    static func isView(_ data: TensorData, of mapping: MappedFile) -> Bool {
        guard let base = data.bytes.baseAddress, let start = mapping.bytes.baseAddress else { return false }
        return base >= start && base < start + mapping.count
    }
}
