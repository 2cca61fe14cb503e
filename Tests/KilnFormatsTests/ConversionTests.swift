import Foundation
import KilnCore
import KilnFormats
import TestSupport
import Testing

/// safetensors → .kiln keeps every tensor bit-exact (as the reference library read it), the
/// source metadata, and records provenance.
struct ConversionTests {
    @Test(arguments: SafetensorsTests.fixtures, [KilnWriter.Storage.raw, .zstd(level: 3)])
    func convertsBitExact(_ fixture: String, storage: KilnWriter.Storage) throws {
        let source = Repository.fixture("safetensors/\(fixture).safetensors")
        let expected = try readJSON(Repository.fixture("safetensors/\(fixture).expected.json"))
        let directory = TemporaryDirectory()
        let output = directory.file("\(fixture).kiln")
        let summary = try Conversion.toKiln(try FormatRegistry.open(source), output: output, options: .init(storage: storage))
        let tensors = try #require(expected["tensors"]?.objectValue)
        #expect(summary.tensors == tensors.count)

        let file = try KilnFile(path: output)
        #expect(file.verify().isSound)
        for (name, reference) in tensors {
            let info = try file.info(name)
            #expect(info.shape == reference["shape"]?.arrayValue?.compactMap(\.intValue), "\(name)")
            #expect(hexString(try file.bytes(info)) == reference["hex"]?.stringValue, "\(name)")
        }
        #expect(file.metadata["source.format"] == "safetensors")
        #expect(file.metadata["source.metadata"]?.mapValue?["format"] == "pt")
        let sources = try #require(file.metadata["provenance.sources"]?.arrayValue)
        #expect(sources.first?.mapValue?["name"] == .string("\(fixture).safetensors"))
        #expect(sources.first?.mapValue?["bytes"]?.intValue == expected["file_bytes"]?.intValue)
        #expect(sources.first?.mapValue?["sha256"]?.stringValue?.count == 64)
        #expect(directory.contents == ["\(fixture).kiln"])
    }

    /// A failed conversion leaves nothing under the output name, nor a temporary file.
    @Test func failedConversionLeavesNothing() throws {
        let directory = TemporaryDirectory()
        let output = directory.file("out.kiln")
        #expect(throws: KilnError.self) {
            _ = try Conversion.toKiln(try FormatRegistry.open(Repository.fixture("malformed/truncated.safetensors")), output: output)
        }
        #expect(directory.contents.isEmpty)
    }
}
