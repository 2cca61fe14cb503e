import Foundation
import TestSupport
import Testing

/// One error contract for both tools: a malformed model exits 1, usage and I/O errors 2, and
/// every error is printed as `TOOL: error: …`.
struct ErrorContractTests {
    /// writer-llama (which has its own tokenizer) with `template` as its chat template.
    static func modelWithTemplate(_ template: String, in directory: TemporaryDirectory) throws -> String {
        for name in ["config.json", "merges.txt", "model.safetensors", "vocab.json"] {
            try FileManager.default.copyItem(atPath: Repository.fixture("models/writer-llama/\(name)"), toPath: directory.file(name))
        }
        let config: [String: Any] = ["bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "add_bos_token": false,
                                     "chat_template": template]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: directory.file("tokenizer_config.json")))
        return directory.file("model.safetensors")
    }

    /// A chat template that runs past its loop limit is a malformed model: exit 1, reported
    /// like every other error (it used to exit 2 with ArgumentParser's "Error: …").
    @Test(arguments: ["{% for i in range(100000000) %}x{% endfor %}", "{{ raise_exception('no system role') }}", "{% if %}"])
    func failingChatTemplateExitsOne(template: String) throws {
        let directory = TemporaryDirectory()
        let model = try Self.modelWithTemplate(template, in: directory)
        let result = try run("/bin/sh", ["-c", "echo hi | '\(Repository.executable("kiln-run"))' chat '\(model)' -n 1"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("kiln-run: error: chat template"), "\(result.stderr)")
    }

    /// The same template through `kiln-run` that renders fine still chats (the contract above is
    /// about failures only).
    @Test func workingChatTemplateStillRuns() throws {
        let directory = TemporaryDirectory()
        let model = try Self.modelWithTemplate("{% for m in messages %}{{ m['content'] }}{% endfor %}", in: directory)
        let result = try run("/bin/sh", ["-c", "echo hi | '\(Repository.executable("kiln-run"))' chat '\(model)' -n 1 --temp 0"])
        #expect(result.status == 0, "\(result.stderr)")
    }
}
