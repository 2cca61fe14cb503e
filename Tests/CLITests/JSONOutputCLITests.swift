import Foundation
import KilnCore
import TestSupport
import Testing

/// Issue 15, points 10 and 11: JSON from every command the issue names, errors as JSON under
/// `--json`, and text output people can read.
struct JSONOutputCLITests {
    let kiln = Repository.executable("kiln")
    let kilnRun = Repository.executable("kiln-run")
    let gpt2 = Repository.fixture("safetensors/tiny_gpt2.safetensors")
    let llama = Repository.fixture("diff/llama_hf")

    @Test func errorsAreJSONUnderJSON() throws {
        let missing = TemporaryDirectory().file("nope.kiln")
        let result = try run(kiln, ["inspect", missing, "--json"])
        #expect(result.status == 2)
        let error = try #require(try JSONValue.parse(result.stdout)["error"], "\(result.stdout)")
        #expect(error["kind"] == .string("io"))
        #expect(error["file"] == .string(missing))
        #expect(error["exit_status"]?.intValue == 2)
        let usage = try run(kilnRun, [llama, "-p", "x", "--temp", "-1", "--json"])
        #expect(usage.status == 2)
        #expect(try JSONValue.parse(usage.stdout)["error"]?["kind"] == .string("usage"), "\(usage.stdout)")
        let malformed = try run(kiln, ["inspect", Repository.fixture("malformed/size_mismatch.safetensors"), "--json"])
        #expect(malformed.status == 1)
        #expect(try JSONValue.parse(malformed.stdout)["error"]?["kind"] == .string("malformed"))
    }

    @Test func convertAndFormatsPrintJSON() throws {
        let directory = TemporaryDirectory()
        let output = directory.file("m.gguf")
        let convert = try run(kiln, ["convert", gpt2, "-o", output, "--json"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let summary = try JSONValue.parse(convert.stdout)
        #expect(summary["format"] == .string("gguf") && summary["tensors"]?.intValue == 28)
        #expect(summary["output_bytes"]?.intValue == (try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int))

        let formats = try run(kiln, ["formats", "--json"])
        let list = try #require(try JSONValue.parse(formats.stdout).arrayValue)
        #expect(list.contains { $0["name"] == .string("gguf") && $0["write"] == .bool(true) })
        #expect(list.contains { $0["name"] == .string("pytorch") && $0["write"] == .bool(false) })
    }

    @Test func formatsColumnsLineUp() throws {
        let lines = try run(kiln, ["formats"]).stdout.split(separator: "\n").map(String.init)
        // Every row's description starts in the same column as the header's.
        let column = try #require(lines.first?.range(of: "description")).lowerBound.utf16Offset(in: lines[0])
        for line in lines.dropFirst() {
            let prefix = String(line.utf16.prefix(column)) ?? ""
            #expect(prefix.hasSuffix("  ") && line.count > column, "\(line)")
        }
    }

    @Test func generateStreamsJSONLines() throws {
        let result = try run(kilnRun, [llama, "-p", "hello", "-n", "5", "--temp", "0", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try result.stdout.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        let last = try #require(lines.last)
        #expect(last["done"] == .bool(true))
        let pieces = lines.dropLast().compactMap { $0["text"]?.stringValue }
        #expect(pieces.count == lines.count - 1 && !pieces.isEmpty)
        #expect(pieces.joined() == last["text"]?.stringValue)
    }

    /// The real vocabulary (the fixture's tiny one drops most letters).
    @Test(.disabled(if: RealModel.skip)) func tokenizeGivesEachIdsText() throws {
        try #require(RealModel.isPresent, "\(RealModel.missingMessage)")
        let result = try run(kilnRun, ["tokenize", RealModel.path, "hello world", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONValue.parse(result.stdout)
        let tokens = try #require(json["tokens"]?.arrayValue)
        #expect(tokens.compactMap { $0["id"]?.intValue } == json["ids"]?.arrayValue?.compactMap(\.intValue))
        #expect(tokens.compactMap { $0["text"]?.stringValue }.joined() == "hello world")
    }

    @Test func logitsTextNamesItsColumns() throws {
        let result = try run(kilnRun, ["logits", llama, "-p", "hello", "--top", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("# pos\ttoken\ttop 2 (id:logit"), "\(result.stdout)")
    }

    @Test func diffJSONGivesMetadataValuesNotQuotedStrings() throws {
        let a = Repository.fixture("diff/llama_hf"), b = Repository.fixture("diff/llama_hf_edited")
        let result = try run(kiln, ["diff", a, b, "--json"])
        let rows = try #require(try JSONValue.parse(result.stdout)["metadata"]?.arrayValue, "\(result.stdout.prefix(300))")
        let strings = rows.flatMap { [$0["a"], $0["b"]] }.compactMap { $0?.stringValue }
        #expect(!strings.contains { $0.hasPrefix("\"") }, "\(strings)")
        #expect(!rows.isEmpty)
    }

    @Test func inspectSaysWhichShapeOrder() throws {
        let text = try run(kiln, ["inspect", gpt2]).stdout
        #expect(text.contains("shapes outermost first"), "\(text.prefix(400))")
    }
}

/// Issue 15, point 11: the quantiser's bar counts tensors (it showed "0.00 GB/s" throughout,
/// dividing a tensor count by time as if it were bytes). `script` gives the tool a terminal.
struct ProgressCLITests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func quantizeBarCountsTensors() throws {
        let directory = TemporaryDirectory()
        let command = [Repository.executable("kiln"), "quantize", Repository.fixture("diff/llama_hf"), "-o", directory.file("q.kiln"),
                       "--scheme", "q8_0", ">/dev/null"].joined(separator: " ")
        let result = try run("/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("quantizing") && result.stdout.contains("tensors"), "\(result.stdout.debugDescription)")
        #expect(!result.stdout.contains("GB/s"), "\(result.stdout.debugDescription)")
    }
}
