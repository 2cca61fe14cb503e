import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnCore
import TestSupport
import Testing

/// The `kiln` executable end to end: output, JSON and exit codes (0 ok, 1 bad input, 2 usage/I/O).
struct KilnCLITests {
    let kiln = Repository.executable("kiln")

    func convertFixture(_ directory: TemporaryDirectory, compress: Bool = false) throws -> String {
        let output = directory.file("gpt2.kiln")
        var arguments = ["convert", Repository.fixture("safetensors/tiny_gpt2.safetensors"), "-o", output]
        if compress { arguments += ["--compress", "3"] }
        let result = try run(kiln, arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("wrote \(output): 28 tensors"))
        return output
    }

    @Test func convertInspectVerify() throws {
        let directory = TemporaryDirectory()
        let output = try convertFixture(directory)
        let inspect = try run(kiln, ["inspect", output, "--json"])
        #expect(inspect.status == 0)
        let json = try JSONValue.parse(inspect.stdout)
        let expected = try readJSON(Repository.fixture("safetensors/tiny_gpt2.expected.json"))
        let parameters = try #require(expected["tensors"]?.objectValue).values.reduce(0) {
            $0 + ($1["shape"]?.arrayValue?.compactMap(\.intValue).reduce(1, *) ?? 0)
        }
        #expect(json["format"] == .string("kiln"))
        #expect(json["architecture"] == .string("gpt2"))
        #expect(json["parameters"]?.intValue == parameters)
        #expect(json["tensors"]?.arrayValue?.count == 28)
        #expect(json["by_type"]?["f32"]?["bytes"]?.intValue == parameters * 4)

        let verify = try run(kiln, ["verify", output])
        #expect(verify.status == 0)
        #expect(verify.stdout.contains("OK"))
    }

    @Test func verifyNamesTheDamagedTensorAndExitsOne() throws {
        let directory = TemporaryDirectory()
        let output = try convertFixture(directory, compress: true)
        let file = try KilnFile(path: output)
        let victim = try file.info("h.1.mlp.c_fc.weight")
        var bytes = try readFile(output)
        bytes[victim.offset + 10] ^= 0xFF
        try writeFile(output, bytes)

        let verify = try run(kiln, ["verify", output, "--json"])
        #expect(verify.status == 1)
        let json = try JSONValue.parse(verify.stdout)
        #expect(json["sound"] == .bool(false))
        #expect(json["failures"]?.arrayValue?.compactMap { $0["tensor"]?.stringValue } == ["h.1.mlp.c_fc.weight"])
        let text = try run(kiln, ["verify", output])
        #expect(text.status == 1)
        #expect(text.stdout.contains("BAD  h.1.mlp.c_fc.weight"))
    }

    @Test func structurallyBrokenFileFailsVerifyWithOne() throws {
        let directory = TemporaryDirectory()
        let output = try convertFixture(directory)
        var bytes = try readFile(output)
        bytes.removeLast(5)
        try writeFile(output, bytes)
        let verify = try run(kiln, ["verify", output])
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("FAIL"))
    }

    @Test func exitCodes() throws {
        let directory = TemporaryDirectory()
        let missing = try run(kiln, ["inspect", directory.file("nope.kiln")])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nope.kiln"))
        #expect(missing.stderr.contains("No such file"))

        let usage = try run(kiln, ["convert"])
        #expect(usage.status == 2)

        let malformed = try run(kiln, ["inspect", Repository.fixture("malformed/size_mismatch.safetensors")])
        #expect(malformed.status == 1)
        #expect(malformed.stderr.contains("size_mismatch.safetensors"))
        #expect(malformed.stderr.contains("tensor 'a'"))

        let help = try run(kiln, ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("convert"))
    }

    @Test func convertRefusesToOverwriteAndLeavesNoPartialFile() throws {
        let directory = TemporaryDirectory()
        let output = try convertFixture(directory)
        let again = try run(kiln, ["convert", Repository.fixture("safetensors/tiny_gpt2.safetensors"), "-o", output])
        #expect(again.status == 2)
        #expect(again.stderr.contains("--overwrite"))

        let failed = try run(kiln, ["convert", Repository.fixture("malformed/truncated.safetensors"), "-o", directory.file("bad.kiln")])
        #expect(failed.status == 1)
        #expect(directory.contents == ["gpt2.kiln"], "a failed conversion leaves nothing behind")
    }

    /// A conversion killed part-way leaves nothing under the final name.
    @Test func killedConversionLeavesNoFinalFile() throws {
        let directory = TemporaryDirectory()
        // Half-entropy data at zstd level 19 converts slowly enough to be killed mid-way.
        let source = directory.file("big.safetensors")
        let count = 8 << 20  // 8 Mi floats = 32 MiB
        let header = #"{"w":{"dtype":"F32","shape":[\#(count)],"data_offsets":[0,\#(count * 4)]}}"#
        var random = SeededRandom(seed: 5)
        var words = [UInt64](repeating: 0, count: count / 2)
        for i in words.indices { words[i] = random.next() & 0x0F0F_0F0F_0F0F_0F0F }  // compressible, so zstd works hard
        let bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) } + Array(header.utf8)
            + words.withUnsafeBytes { Array($0) }
        try writeFile(source, bytes)
        let output = directory.file("big.kiln")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kiln)
        process.arguments = ["convert", source, "-o", output, "--compress", "19"]
        try process.run()
        Thread.sleep(forTimeInterval: 0.5)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the conversion should still have been running")
        #expect(!FileManager.default.fileExists(atPath: output), "the final name must not exist after a kill")
        #expect(directory.contents.contains { $0.hasPrefix(".big.kiln.tmp-") }, "the killed writer's temporary file remains")

        // The next writer of the same output clears what the dead one left.
        let next = try run(kiln, ["convert", Repository.fixture("safetensors/tiny_gpt2.safetensors"), "-o", output])
        #expect(next.status == 0)
        #expect(directory.contents.sorted() == ["big.kiln", "big.safetensors"])
    }
}
