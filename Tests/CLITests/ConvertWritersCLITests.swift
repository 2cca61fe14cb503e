import Foundation
import KilnCore
import TestSupport
import Testing

/// `kiln convert` to every format, `--to`, `--dtype`, `--layout` and their errors, and
/// `kiln formats` listing what Kiln reads and writes.
struct ConvertWritersCLITests {
    let kiln = Repository.executable("kiln")
    let gpt2 = Repository.fixture("safetensors/tiny_gpt2.safetensors")

    @Test func formatsShowsReadAndWrite() throws {
        let result = try run(kiln, ["formats"])
        #expect(result.status == 0)
        for name in ["kiln", "safetensors", "gguf"] {
            #expect(result.stdout.split(separator: "\n").contains { $0.hasPrefix(name) && $0.contains("read/write") }, "\(result.stdout)")
        }
    }

    @Test(arguments: [("out.gguf", "gguf"), ("out.safetensors", "safetensors"), ("out.kiln", "kiln")])
    func outputFormatFollowsTheExtension(_ name: String, _ format: String) throws {
        let directory = TemporaryDirectory()
        let output = directory.file(name)
        let result = try run(kiln, ["convert", gpt2, "-o", output, "--dtype", "f16"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("wrote \(output): 28 tensors") && result.stderr.contains("(\(format))"), "\(result.stderr)")
        let inspect = try run(kiln, ["inspect", output, "--json"])
        #expect(inspect.status == 0)
        let json = try JSONValue.parse(inspect.stdout)
        #expect(json["format"] == .string(format))
        #expect(json["by_type"]?["f16"] != nil, "--dtype f16 applied: \(inspect.stdout.prefix(400))")
    }

    @Test func explicitFormatOverridesTheExtension() throws {
        let directory = TemporaryDirectory()
        let output = directory.file("model.bin")
        let result = try run(kiln, ["convert", gpt2, "-o", output, "--to", "gguf"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Array(try readFile(output).prefix(4)) == Array("GGUF".utf8))
    }

    @Test func usageErrorsExitTwoAndWriteNothing() throws {
        let directory = TemporaryDirectory()
        let cases: [([String], String)] = [
            (["-o", directory.file("x.bin")], "pass --to"),
            (["-o", directory.file("x.gguf"), "--compress", "3"], "--compress applies to .kiln output only"),
            (["-o", directory.file("x.gguf"), "--dtype", "q4_0"], "--dtype takes f32, f16, bf16"),
            (["-o", directory.file("x.kiln"), "--to", "pytorch"], "cannot write 'pytorch'"),
            (["-o", directory.file("x.gguf"), "--layout", "hf"], "--layout hf applies to safetensors output"),
            (["-o", directory.file("x.safetensors"), "--layout", "sideways"], "--layout takes"),
        ]
        for (arguments, message) in cases {
            let result = try run(kiln, ["convert", gpt2] + arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        #expect(directory.contents.isEmpty, "\(directory.contents)")
    }

    @Test(arguments: ["gguf", "safetensors"])
    func malformedInputFailsWithOneAndLeavesNothing(_ format: String) throws {
        let directory = TemporaryDirectory()
        for name in ["truncated.safetensors", "size_mismatch.safetensors"] {
            let result = try run(kiln, ["convert", Repository.fixture("malformed/\(name)"), "-o", directory.file("out.\(format)")])
            #expect(result.status == 1, "\(name): \(result.stderr)")
            #expect(result.stderr.contains(name), "the error names the input: \(result.stderr)")
        }
        let gguf = try run(kiln, ["convert", Repository.fixture("malformed/truncated_data.gguf"), "-o", directory.file("out.\(format)")])
        #expect(gguf.status == 1)
        #expect(gguf.stderr.contains("truncated"), "\(gguf.stderr)")
        #expect(directory.contents.isEmpty)
    }
}
