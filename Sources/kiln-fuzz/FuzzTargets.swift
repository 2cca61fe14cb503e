import Foundation
import KilnCore
import KilnFormats
import KilnRuntime

/// One entry point per reader, each taking arbitrary bytes. A target passes when it returns
/// or throws; a trap, an ASan report, a hang or a blow-up in memory is a finding. Used by
/// libFuzzer (`Tools/fuzz.sh`) and by the replay mode (`kiln-fuzz TARGET FILE…`) that runs
/// committed crash inputs in the tests.
///
/// `@testable` reaches internal parsers (the pickle machine, the sharded index) so they are
/// fuzzed directly; it needs a build with testing enabled, which debug builds are.
enum FuzzTargets {
    typealias Body = @Sendable (UnsafeRawBufferPointer) throws -> Void

    static let all: [String: Body] = [
        "kiln": { try openModel($0, name: "model.kiln", format: "kiln") },
        "gguf": { try openModel($0, name: "model.gguf", format: "gguf") },
        "safetensors": { try openModel($0, name: "model.safetensors", format: "safetensors") },
        "safetensors-index": safetensorsIndex,
        "npy": { try openModel($0, name: "array.npy", format: "numpy") },
        "npz": { try openModel($0, name: "arrays.npz", format: "numpy") },
        "pytorch": { try openModel($0, name: "model.pt", format: "pytorch") },
        "pickle": pickle,
        "zip": zip,
        "llama2c": { try openModel($0, name: "model.bin", format: "llama2c") },
        "llmc": { try openModel($0, name: "model.bin", format: "llmc") },
        "tokenizer": tokenizer,
        "encode": encode,
        "chat-template": chatTemplate,
        "json": { _ = try JSONValue.parse($0) },
    ]

    // MARK: Model files

    /// Opens `bytes` as a model file the way the tools do, then reads every tensor and, when the
    /// file has one, builds its tokenizer and parses its chat template: everything `kiln
    /// convert` and `kiln-run` would touch before running the model.
    static func openModel(_ bytes: UnsafeRawBufferPointer, name: String, format: String) throws {
        try withScratchFile(bytes, name: name) { path in
            let model = try CanonicalModel.open(path, format: format)
            for tensor in model.tensors {
                let data = try model.data(tensor)
                withExtendedLifetime(data.owner) { consume(data.bytes) }
            }
            if let kiln = model.reader as? KilnFile { _ = kiln.verify(threads: 1) }
            // Independent of each other: a vocabulary Kiln cannot run still has a template to parse.
            if let spec = model.tokenizer {
                if let tokenizer = try? BPETokenizer(spec) {
                    _ = tokenizer.decode(tokenizer.encode("Hello, world! <|im_start|> 123"))
                }
                if let source = spec.chatTemplate {
                    _ = try? ChatTemplate(source).render(messages: sampleMessages, addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>")
                }
            }
        }
    }

    static func safetensorsIndex(_ bytes: UnsafeRawBufferPointer) throws {
        try withScratchFile(bytes, name: "model.safetensors.index.json") { path in
            _ = try ShardIndex(try MappedFile(path: path))
        }
    }

    /// The pickle machine through the PyTorch reader's bare-pickle path (persistent ids refused;
    /// zip checkpoints reach them through the pytorch target). Through the reader rather than
    /// `PickleMachine` itself: a `@testable import` would not build in release, and `swift build
    /// -c release` builds every product.
    static func pickle(_ bytes: UnsafeRawBufferPointer) throws {
        try withScratchFile(bytes, name: "fuzz.pkl") { path in
            _ = try PyTorchFormatPlugin().open(path)
        }
    }

    /// The ZIP reader: the central directory, then every member inflated and CRC-checked.
    static func zip(_ bytes: UnsafeRawBufferPointer) throws {
        try withScratchFile(bytes, name: "archive.zip") { path in
            let archive = try ZipArchive(mapping: try MappedFile(path: path))
            for entry in archive.entries {
                let data = try archive.contents(entry)
                withExtendedLifetime(data.owner) { consume(data.bytes) }
            }
        }
    }

    // MARK: Tokenizer and chat templates

    /// Vocabulary and merges from the input: the first byte picks the pre-tokenizer, then
    /// NUL-separated sections hold the tokens and the merge rules (one a line) and a text to
    /// encode. Token kinds cycle so that some tokens are control and user-defined.
    static func tokenizer(_ bytes: UnsafeRawBufferPointer) throws {
        guard let first = bytes.first else { return }
        let sections = bytes.dropFirst().split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        guard sections.count == 3 else { return }
        let tokens = sections[0].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let merges = sections[1].split(separator: "\n").map(String.init)
        let kinds = tokens.indices.map { i -> TokenizerSpec.TokenKind in i % 7 == 3 ? .control : i % 11 == 5 ? .userDefined : .normal }
        let pres = ["gpt-2", "llama-bpe", "qwen2", "smollm", "starcoder", "default", "unknown-pre"]
        let spec = TokenizerSpec(model: "gpt2", pre: pres[Int(first) % pres.count], tokens: tokens, merges: merges, kinds: kinds)
        let tokenizer = try BPETokenizer(spec)
        for special in [true, false] {
            let ids = tokenizer.encode(sections[2], parseSpecial: special)
            _ = tokenizer.decode(ids, skipSpecial: special)
        }
    }

    /// Arbitrary text through a real byte-level vocabulary (the writer-llama fixture, with all
    /// 256 byte tokens missing but its merges), both ways.
    static func encode(_ bytes: UnsafeRawBufferPointer) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        for tokenizer in fixtureTokenizers {
            _ = tokenizer.decode(tokenizer.encode(text))
        }
    }

    /// The input as a template, rendered with a short conversation; the renderer's own limits
    /// (steps, output size, recursion) must stop anything hostile with an error.
    static func chatTemplate(_ bytes: UnsafeRawBufferPointer) throws {
        let template = try ChatTemplate(String(decoding: bytes, as: UTF8.self))
        _ = try template.render(messages: sampleMessages, addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>")
    }

    static let sampleMessages = [
        ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi {{ there }}"),
        ChatMessage(role: "assistant", content: "Hello."), ChatMessage(role: "user", content: "Again"),
    ]

    /// Tokenizers of the committed fixture vocabularies, loaded once.
    static let fixtureTokenizers: [BPETokenizer] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let model = root.appendingPathComponent("Fixtures/models/writer-llama/model.safetensors").path
        guard let spec = try? CanonicalModel.open(model).tokenizer, let tokenizer = try? BPETokenizer(spec) else { return [] }
        return [tokenizer]
    }()

    // MARK: Support

    /// Reads every byte so that a view past the mapping's end would be caught by ASan or SIGBUS.
    @inline(never)
    static func consume(_ bytes: UnsafeRawBufferPointer) {
        var sum: UInt8 = 0
        for byte in bytes { sum &+= byte }
        blackHole = sum
    }
    nonisolated(unsafe) static var blackHole: UInt8 = 0

    /// The readers open paths (and map them), so each input becomes a file in a private
    /// directory on tmpfs when there is one.
    static func withScratchFile(_ bytes: UnsafeRawBufferPointer, name: String, _ body: (String) throws -> Void) throws {
        let path = scratchDirectory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { fatalError("kiln-fuzz: cannot create \(path)") }
        var written = 0
        while written < bytes.count {
            let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
            guard n > 0 else { fatalError("kiln-fuzz: cannot write \(path)") }
            written += n
        }
        close(fd)
        defer { unlink(path) }
        try body(path)
    }

    static let scratchDirectory: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = base + "/kiln-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: FuzzTargets.scratchDirectory) }
        return path
    }()
}
