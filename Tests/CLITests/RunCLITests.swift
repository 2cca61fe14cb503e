import Foundation
import KilnCore
import TestSupport
import Testing

/// Issue 15, points 6 and 9: piped chat replies stay apart, and `kiln-run` notices a damaged
/// `.kiln` file instead of printing nonsense with status 0.
struct RunCLITests {
    let kiln = Repository.executable("kiln")
    let kilnRun = Repository.executable("kiln-run")
    let llama = Repository.fixture("diff/llama_hf")

    @Test func pipedChatRepliesAreSeparated() throws {
        let arguments = ["chat", llama, "--temp", "0", "-n", "6"]
        let one = try runWithInput(kilnRun, arguments, input: "Hi\n")
        let two = try runWithInput(kilnRun, arguments, input: "Hi\nName a color.\n")
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)\(two.stderr)")
        let first = one.stdout.trimmingCharacters(in: .newlines)
        #expect(!first.isEmpty)
        // The first reply, then a line break and an empty line, then the second.
        #expect(two.stdout.hasPrefix(first + "\n\n"), "\(two.stdout.debugDescription)")
        #expect(two.stdout.count > first.count + 2)

        let json = try runWithInput(kilnRun, arguments + ["--json"], input: "Hi\nName a color.\n")
        let lines = try json.stdout.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        #expect(lines.compactMap { $0["user"]?.stringValue } == ["Hi", "Name a color."])
        #expect(lines.first?["reply"]?.stringValue?.trimmingCharacters(in: .newlines) == first)
    }

    /// The KV cache is f16 unless `--kv-cache f32` asks otherwise (llama.cpp's default too: half
    /// the memory); `--kv-f16`, the option before f16 became the default, still means f16. The
    /// sizes are the model's shape from its config.json × the positions, 2 or 4 bytes each.
    @Test func kvCacheIsHalfPrecisionUnlessAskedForF32() throws {
        let config = try readJSON(llama + "/config.json")
        let layers = try #require(config["num_hidden_layers"]?.intValue)
        let kvHeads = try #require(config["num_key_value_heads"]?.intValue)
        let headDim = try #require(config["head_dim"]?.intValue)
        // bench -p 56 -n 8: a context of 64 positions, one whole block of key slots (no padding).
        let elements = 2 * layers * kvHeads * headDim * 64  // keys and values
        func cacheBytes(_ options: [String]) throws -> Int? {
            let result = try run(kilnRun, ["bench", llama, "-p", "56", "-n", "8", "--json"] + options)
            #expect(result.status == 0, "\(result.stderr)")
            return try JSONValue.parse(result.stdout)["kv_cache_bytes"]?.intValue
        }
        #expect(try cacheBytes([]) == 2 * elements)
        #expect(try cacheBytes(["--kv-cache", "f16"]) == 2 * elements)
        #expect(try cacheBytes(["--kv-f16"]) == 2 * elements)
        #expect(try cacheBytes(["--kv-cache", "f32"]) == 4 * elements)
        let both = try run(kilnRun, ["bench", llama, "-p", "56", "-n", "8", "--kv-f16", "--kv-cache", "f32"])
        #expect(both.status == 2 && both.stderr.contains("--kv-f16 and --kv-cache f32"), "\(both.stderr)")
    }

    /// A flipped byte in a tensor that the run reads stops it with status 1, naming the tensor.
    @Test func aDamagedKilnFileStopsTheRun() throws {
        let directory = TemporaryDirectory()
        let model = directory.file("m.kiln")
        #expect(try run(kiln, ["convert", llama, "-o", model]).status == 0)
        let file = try KilnFile(path: model)
        let victim = try #require(file.tensors.max { $0.length < $1.length })
        var bytes = try readFile(model)
        for i in stride(from: 0, to: victim.length, by: 97) { bytes[victim.offset + i] ^= 0x55 }
        try writeFile(model, bytes)

        let result = try run(kilnRun, [model, "-p", "hello", "-n", "4", "--temp", "0"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("tensor '\(victim.name)'") && result.stderr.contains("--no-verify"), "\(result.stderr)")

        let skipped = try run(kilnRun, [model, "-p", "hello", "-n", "4", "--temp", "0", "--no-verify"])
        #expect(skipped.status == 0, "--no-verify runs it anyway: \(skipped.stderr)")

        let sound = directory.file("sound.kiln")
        #expect(try run(kiln, ["convert", llama, "-o", sound]).status == 0)
        #expect(try run(kilnRun, [sound, "-p", "hello", "-n", "4", "--temp", "0"]).status == 0)
    }
}
