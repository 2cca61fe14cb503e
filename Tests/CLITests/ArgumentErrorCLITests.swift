import Foundation
import KilnCore
import TestSupport
import Testing

/// Issue 15, points 4, 7 and 8: messages about what the user actually typed, no raw Foundation
/// errors, and the flags people bring from llama.cpp.
struct ArgumentErrorCLITests {
    let kiln = Repository.executable("kiln")
    let kilnRun = Repository.executable("kiln-run")
    let gpt2 = Repository.fixture("safetensors/tiny_gpt2.safetensors")
    let llama = Repository.fixture("diff/llama_hf")

    /// Each wrong command line exits 2 with a message about the mistake made.
    @Test(arguments: [
        (["kiln-run", "@llama", "-p", "x", "--temp", "-1"], "--temp must be at least 0"),
        (["kiln-run", "@llama", "-p", "x", "--top-p", "2"], "--top-p must be between 0 and 1; got 2"),
        (["kiln-run", "@llama", "-p", "x", "--threads", "0"], "--threads must be at least 1; got 0"),
        (["kiln-run", "@llama", "-p", "x", "-t", "-3"], "--threads must be at least 1; got -3"),
        (["kiln-run", "@llama", "-p", "x", "-c", "1"], "-c/--ctx-size must be at least 2; got 1"),
        (["kiln", "conver", "@gpt2", "-o", "b"], "unknown command 'conver'; did you mean 'convert'?"),
        (["kiln", "convert", "@gpt2", "--ouput", "b.kiln"], "unknown option '--ouput'; did you mean '--output'?"),
        (["kiln", "quantize", "@gpt2", "-o", "b.kiln", "--scheme", "q8_0", "--threads", "0"], "--threads must be at least 1; got 0"),
        (["kiln", "verify", "@gpt2", "--threads", "0"], "--threads must be at least 1; got 0"),
        (["kiln-run", "genrate", "@llama", "-p", "x"], "unknown command 'genrate'; did you mean 'generate'?"),
        (["kiln-run", "bench", "--file-io", "--large-mi-b", "1"], "unknown option '--large-mi-b'; did you mean '--large-mib'?"),
    ])
    func misleadingErrorsAreNowAboutTheMistake(_ arguments: [String], _ message: String) throws {
        let tool = arguments[0] == "kiln" ? kiln : kilnRun
        let rest = arguments.dropFirst().map { $0 == "@llama" ? llama : $0 == "@gpt2" ? gpt2 : $0 }
        let result = try run(tool, Array(rest))
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
    }

    @Test func aMissingTextFileIsAKilnErrorNotAFoundationOne() throws {
        let missing = TemporaryDirectory().file("missing.txt")
        for flag in ["--file", "-f", "--text"] {
            let result = try run(kilnRun, ["perplexity", llama, flag, missing])
            #expect(result.status == 2, "\(flag): \(result.stderr)")
            #expect(result.stderr.contains("\(missing): "), "\(result.stderr)")
            #expect(!result.stderr.contains("NSCocoaErrorDomain") && !result.stderr.contains("Error Domain"), "\(result.stderr)")
        }
        let prompt = try run(kilnRun, [llama, "-f", missing])
        #expect(prompt.status == 2 && prompt.stderr.contains(missing) && !prompt.stderr.contains("Domain"), "\(prompt.stderr)")
    }

    @Test func llamaCppSpellingsWork() throws {
        let directory = TemporaryDirectory()
        let promptFile = directory.file("prompt.txt")
        try writeFile(promptFile, Array("hello world".utf8))
        let long = try run(kilnRun, [llama, "--file", promptFile, "--n-predict", "4", "--temp", "0", "--ctx-size", "64",
                                     "--threads", "1", "--seed", "7", "--json"])
        let short = try run(kilnRun, [llama, "-f", promptFile, "-n", "4", "--temp", "0", "-c", "64", "-t", "1", "-s", "7", "--json"])
        #expect(long.status == 0 && short.status == 0, "\(long.stderr)\(short.stderr)")
        let ids = try #require(lastJSONLine(long.stdout)["ids"]?.arrayValue)
        #expect(ids.count == 4)
        #expect(lastJSONLine(short.stdout)["ids"]?.arrayValue == ids)
        #expect(lastJSONLine(long.stdout)["prompt_ids"] == lastJSONLine(short.stdout)["prompt_ids"])

        // `-p -` reads standard input: the same prompt as from the file.
        let stdin = try runWithInput(kilnRun, [llama, "-p", "-", "-n", "4", "--temp", "0", "--json"], input: "hello world\n")
        #expect(stdin.status == 0, "\(stdin.stderr)")
        #expect(lastJSONLine(stdin.stdout)["prompt_ids"] == lastJSONLine(long.stdout)["prompt_ids"])
    }

    @Test(arguments: ["fp16", "float16", "F16", "bfloat16", "float32"])
    func dtypeSpellings(_ spelling: String) throws {
        let directory = TemporaryDirectory()
        let output = directory.file("out.safetensors")
        let result = try run(kiln, ["convert", gpt2, "-o", output, "--dtype", spelling])
        #expect(result.status == 0, "\(result.stderr)")
        let inspect = try JSONValue.parse(try run(kiln, ["inspect", output, "--json"]).stdout)
        let expected = ["fp16": "f16", "float16": "f16", "F16": "f16", "bfloat16": "bf16", "float32": "f32"][spelling]!
        #expect(inspect["by_type"]?.objectValue?.keys.sorted() == [expected])
    }

    @Test func benchNamesItsFlagForPeople() throws {
        let help = try run(kilnRun, ["bench", "--help"])
        #expect(help.stdout.contains("--large-mib") && !help.stdout.contains("--large-mi-b"), "\(help.stdout)")
    }
}

/// The last line of JSON-lines output, parsed.
func lastJSONLine(_ text: String) -> JSONValue {
    (try? JSONValue.parse(String(text.split(separator: "\n").last ?? ""))) ?? .null
}

/// Runs a program with `input` on its standard input.
func runWithInput(_ executable: String, _ arguments: [String], input: String) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let inPipe = Pipe(), out = Pipe(), err = Pipe()
    process.standardInput = inPipe
    process.standardOutput = out
    process.standardError = err
    try process.run()
    inPipe.fileHandleForWriting.write(Data(input.utf8))
    try inPipe.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}
