import Foundation
import KilnRuntime
import Testing
import TestSupport

/// A llama2.c checkpoint with its own `tokenizer.bin` generates, greedily, the tokens llama2.c's
/// `run.c` generates. The checkpoint and tokenizer come from Tools/make_llama2c_story.py; the
/// expected ids (Fixtures/expected/llama2c_story.json) from run.c built from karpathy/llama2.c
/// (`cc -O2 run.c -lm`, `run model.bin -z tokenizer.bin -t 0 -n STEPS -i PROMPT`), which is not
/// part of this repository.
struct Llama2cStoryTests {
    static let directory = Repository.fixture("llama2c/story")

    struct Case {
        var prompt: String
        var steps: Int
        /// run.c's `next` at each position: the prompt's tokens after BOS, then its picks.
        var nextIDs: [Int]
        var stdout: [UInt8]
    }

    static func cases() throws -> [Case] {
        let json = try readJSON(Repository.fixture("expected/llama2c_story.json"))
        return try #require(json["cases"]?.arrayValue).map { item in
            Case(prompt: try #require(item["prompt"]?.stringValue), steps: try #require(item["steps"]?.intValue),
                 nextIDs: try #require(item["next_ids"]?.arrayValue).compactMap(\.intValue),
                 stdout: bytesFromHex(try #require(item["stdout_hex"]?.stringValue)))
        }
    }

    @Test func tokenizerBinIsReadBesideTheCheckpoint() throws {
        let model = try CanonicalModel.open(Self.directory + "/model.bin")
        let spec = try #require(model.tokenizer)
        #expect(spec.model == "llama" && spec.bosID == 1 && spec.eosID == 2 && spec.unknownID == 0 && spec.addBOS)
        #expect(spec.tokens[3 + 0x41] == "<0x41>" && spec.kinds[3 + 0x41] == .byte)
        #expect(model.warnings.isEmpty, "\(model.warnings)")
    }

    @Test func generatesWhatRunCGenerates() throws {
        let model = try LanguageModel(contentsOf: URL(fileURLWithPath: Self.directory + "/model.bin"))
        for c in try Self.cases() {
            // run.c: BOS, then the prompt with a leading space, merged by score.
            let prompt = model.promptTokens(c.prompt)
            try #require(prompt.count - 1 <= c.nextIDs.count)
            #expect(Array(prompt.dropFirst()) == Array(c.nextIDs.prefix(prompt.count - 1)), "prompt \(c.prompt.debugDescription)")
            let state = try model.makeState(contextLength: c.steps + 1)
            var logits = try state.forward(prompt)
            var generated: [Int] = []
            // run.c runs `steps` positions and stops early when it picks BOS.
            while prompt.count - 1 + generated.count < c.steps {
                let next = logits.indices.max { logits[$0] < logits[$1] }!
                generated.append(next)
                if next == 1 { break }
                logits = try state.forward([next])
            }
            let expected = Array(c.nextIDs.dropFirst(prompt.count - 1))
            #expect(generated == expected, "prompt \(c.prompt.debugDescription)")
        }
    }
}
