import Foundation
import KilnCore
@testable import KilnFormats
import TestSupport
import Testing

/// Every writer publishes its output only when complete: a failure part-way (a source tensor
/// that cannot be read, a bad request) leaves neither the output nor a temporary file.
struct WriterAtomicityTests {
    @Test(arguments: ["kiln", "safetensors", "gguf"])
    func failedWriteLeavesNothing(_ format: String) throws {
        let writer = try #require(FormatRegistry.plugin(named: format)?.writer)
        let source = Repository.fixture("safetensors/tiny_gpt2.safetensors")
        let reader = FailingReader(try FormatRegistry.open(source), failingAt: "h.1.mlp.c_fc.weight")
        let directory = TemporaryDirectory()
        let output = directory.file("out.\(format)")
        do {
            _ = try Conversion.convert(try CanonicalModel(reader: reader), to: writer, output: output)
            Issue.record("the failure did not surface")
        } catch let error as KilnError {
            #expect(error.description.contains("simulated read failure"), "\(error)")
            #expect(error.description.contains("h.1.mlp.c_fc.weight"), "the error names the tensor: \(error)")
        }
        #expect(directory.contents.isEmpty, "left behind: \(directory.contents)")
    }

    @Test func droppedOutputFileLeavesNothing() throws {
        let directory = TemporaryDirectory()
        do {
            let file = try AtomicOutputFile(path: directory.file("x.bin"))
            try file.write([1, 2, 3])
            try file.pad(to: 100_000)
            #expect(file.position == 100_000)
            #expect(directory.contents.count == 1 && directory.contents[0].hasPrefix(".x.bin.tmp-"))
        }
        #expect(directory.contents.isEmpty)

        let file = try AtomicOutputFile(path: directory.file("y.bin"))
        try file.write([9, 8, 7, 6])
        try [UInt8]([5]).withUnsafeBytes { try file.overwrite($0, at: 1) }
        try file.commit()
        #expect(try readFile(directory.file("y.bin")) == [9, 5, 7, 6])
        #expect(directory.contents == ["y.bin"])
    }

    @Test func unwritableDestinationIsAnIOError() throws {
        do {
            _ = try AtomicOutputFile(path: "/nonexistent-kiln-dir/out.gguf")
            Issue.record("opened a file in a missing directory")
        } catch let error as KilnError {
            #expect(error.kind == .io)
            #expect(error.description.contains("nonexistent-kiln-dir"))
        }
    }

    @Test func registryFindsWritersByExtensionOrName() throws {
        #expect(try FormatRegistry.writer(for: "a/b.gguf").formatName == "gguf")
        #expect(try FormatRegistry.writer(for: "a/b.SAFETENSORS").formatName == "safetensors")
        #expect(try FormatRegistry.writer(for: "a/b.kiln").formatName == "kiln")
        #expect(try FormatRegistry.writer(for: "a/b.bin", format: "gguf").formatName == "gguf")
        #expect(throws: KilnError.self) { try FormatRegistry.writer(for: "a/b.bin") }
        #expect(throws: KilnError.self) { try FormatRegistry.writer(for: "a/b.kiln", format: "pytorch") }
    }

    /// Converting streams: a tensor's bytes are prepared while the one before is written, and
    /// compressed `.kiln` sources are not cached in the reader (memory stays per tensor).
    @Test func compressedKilnSourceStreams() throws {
        let directory = TemporaryDirectory()
        let kiln = directory.file("c.kiln")
        _ = try Conversion.toKiln(try FormatRegistry.open(Repository.fixture("safetensors/tiny_gpt2.safetensors")),
                                  output: kiln, options: .init(storage: .zstd(level: 3)))
        let output = directory.file("c.safetensors")
        _ = try Writers.convert(kiln, to: SafetensorsWriter(), output)
        let original = try SafetensorsFile(path: Repository.fixture("safetensors/tiny_gpt2.safetensors"))
        let written = try CanonicalModel.open(output)
        let reference = try CanonicalModel(reader: original)
        for tensor in reference.tensors {
            let a = try reference.data(tensor), b = try written.data(try #require(written.tensor(named: tensor.name)))
            withExtendedLifetime((a.owner, b.owner)) { #expect(Array(a.bytes) == Array(b.bytes), "\(tensor.name)") }
        }
    }
}
