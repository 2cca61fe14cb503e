import Foundation
import KilnCore
import TestSupport
import Testing

/// `kiln-run` on a llama2.c checkpoint with its `tokenizer.bin` beside it: text in, text out,
/// the same greedy tokens as llama2.c's run.c (Fixtures/expected/llama2c_story.json), directly
/// and after `kiln convert` to `.kiln`, which carries the tokenizer.
struct Llama2cRunCLITests {
    let kiln = Repository.executable("kiln")
    let kilnRun = Repository.executable("kiln-run")
    let checkpoint = Repository.fixture("llama2c/story/model.bin")

    @Test func generatesRunCsTokensAsText() throws {
        let expected = try readJSON(Repository.fixture("expected/llama2c_story.json"))
        let first = try #require(expected["cases"]?.arrayValue?.first)
        let prompt = try #require(first["prompt"]?.stringValue)
        let nextIDs = try #require(first["next_ids"]?.arrayValue).compactMap(\.intValue)
        let directory = TemporaryDirectory()
        let converted = directory.file("story.kiln")
        #expect(try run(kiln, ["convert", checkpoint, "-o", converted]).status == 0)
        for model in [checkpoint, converted] {
            // run.c keeps its cache in f32, so the comparison does too (kiln-run's default is f16).
            let result = try run(kilnRun, ["generate", model, "-p", prompt, "-n", "12", "--temp", "0", "--json", "--kv-cache", "f32"])
            #expect(result.status == 0, "\(result.stderr)")
            let done = try #require(try result.stdout.split(separator: "\n").map { try JSONValue.parse(String($0)) }.last)
            let promptIDs = try #require(done["prompt_ids"]?.arrayValue).compactMap(\.intValue)
            let ids = try #require(done["ids"]?.arrayValue).compactMap(\.intValue)
            #expect(promptIDs.first == 1 && Array(promptIDs.dropFirst()) == Array(nextIDs.prefix(promptIDs.count - 1)))
            #expect(ids == Array(nextIDs.dropFirst(promptIDs.count - 1).prefix(12)), "\(model)")
            #expect(done["text"]?.stringValue?.isEmpty == false)
        }
    }
}
