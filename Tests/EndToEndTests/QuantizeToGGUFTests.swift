import Foundation
import KilnCore
import TestSupport
import Testing

/// Issue 15's acceptance on the real model, through the release binaries: `kiln quantize … -o
/// x.gguf` writes a GGUF that gguf-py reads (Tools/check_gguf.py) and that still answers "Paris".
struct QuantizeToGGUFTests {
    static let kiln = Repository.path(".build/release/kiln")
    static let kilnRun = Repository.path(".build/release/kiln-run")

    @Test(.disabled(if: RealModel.skip)) func realModelToQ8GGUF() throws {
        try #require(RealModel.isPresent, "\(RealModel.missingMessage)")
        try #require(FileManager.default.isExecutableFile(atPath: Self.kiln), "run `swift build -c release` first (Tools/test.sh does)")
        let directory = TemporaryDirectory()
        let output = directory.file("smol-q8.gguf")
        // The file is Q4_1 already: refused without the flag, then done with it.
        let refused = try run(Self.kiln, ["quantize", RealModel.path, "-o", output, "--scheme", "q8_0"])
        #expect(refused.status == 2 && refused.stderr.contains("--allow-requantize"), "\(refused.stderr)")
        let result = try run(Self.kiln, ["quantize", RealModel.path, "-o", output, "--scheme", "q8_0", "--allow-requantize", "--method", "rtn"])
        try #require(result.status == 0, "\(result.stderr)")
        #expect(Array(try readFile(output).prefix(4)) == Array("GGUF".utf8))
        if pythonCanImport(["gguf", "numpy"]) {
            let check = try runPythonCheck("check_gguf.py", [output])
            #expect(check.status == 0, "\(check.output)")
        }
        let generate = try run(Self.kilnRun, [output, "-p", "The capital of France is", "-n", "8", "--temp", "0"])
        #expect(generate.status == 0, "\(generate.stderr)")
        #expect(generate.stdout.contains("Paris"), "\(generate.stdout)")
    }
}
