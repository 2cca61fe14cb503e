import Foundation
import KilnCore
import TestSupport
import Testing

/// The three crashes of issue 16, each reproduced as it was found: the tool must end with a clear
/// error and exit 1 or 2 (never a signal) while `ulimit -v` caps its address space at 4 GB, as in
/// the original reports. Hostile files are made in a temporary directory; the big ones are sparse
/// or compressed, so they cost little disk.
@Suite(.disabled(if: Sanitizer.isActive, "ulimit -v cannot hold a sanitizer's shadow memory"))
struct HostileInputTests {
    static let limitKiB = 4_000_000

    /// Runs `executable arguments` under `ulimit -v limitKiB` (through /bin/sh, since the limit
    /// must be set in the child before it starts).
    static func runLimited(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let quoted = ([executable] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        return try run("/bin/sh", ["-c", "ulimit -v \(limitKiB) && exec " + quoted.joined(separator: " ")])
    }

    /// writer-llama with its own tokenizer, copied so its config can be edited.
    static func copyWriterLlama(to directory: TemporaryDirectory, context: String? = nil) throws -> String {
        for name in ["config.json", "merges.txt", "model.safetensors", "tokenizer_config.json", "vocab.json"] {
            try FileManager.default.copyItem(atPath: Repository.fixture("models/writer-llama/\(name)"), toPath: directory.file(name))
        }
        if let context {
            let config = try String(contentsOfFile: directory.file("config.json"), encoding: .utf8)
            let edited = config.replacingOccurrences(of: #""max_position_embeddings": 128"#, with: #""max_position_embeddings": \#(context)"#)
            #expect(edited != config)
            try edited.write(toFile: directory.file("config.json"), atomically: true, encoding: .utf8)
        }
        return directory.file("model.safetensors")
    }

    // MARK: --ctx

    /// `--ctx 100000000` aborted allocating 2.3 TB, `--ctx 1099511627776` likewise, and
    /// `--ctx 9223372036854775807` trapped on the size's overflow. A context longer than the
    /// model's is refused before anything is allocated.
    @Test(arguments: ["100000000", "1099511627776", "9223372036854775807"])
    func hugeContextIsRefusedAgainstTheModel(ctx: String) throws {
        let directory = TemporaryDirectory()
        let model = try Self.copyWriterLlama(to: directory)
        let result = try Self.runLimited(Repository.executable("kiln-run"), [model, "-p", "hello", "-n", "1", "--ctx", ctx])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("kiln-run: error: \(model): a context of \(ctx) positions is more than the model's 128"), "\(result.stderr)")
    }

    /// A model that claims an enormous context of its own: the KV cache size is computed with
    /// overflow checks and compared with the machine's memory; what passes that estimate but not
    /// the process's limit is refused by the allocator as an error, not an abort.
    @Test func hugeContextOfAHostileModelIsRefusedByItsSize() throws {
        let directory = TemporaryDirectory()
        let model = try Self.copyWriterLlama(to: directory, context: "9223372036854775807")
        let kiln = Repository.executable("kiln-run")
        // writer-llama's f32 cache: 2 (K, V) × 4 bytes × 2 layers × 2 KV heads × 8 = 256 bytes a position.
        let f32 = ["--kv-cache", "f32"]
        let overflow = try Self.runLimited(kiln, [model, "-p", "hello", "-n", "1", "--ctx", "9223372036854775807"] + f32)
        #expect(overflow.status == 2)
        #expect(overflow.stderr.contains("a context of 9223372036854775807 positions would need a KV cache of more than"), "\(overflow.stderr)")

        let beyondMachine = (Int(ProcessInfo.processInfo.physicalMemory) / 256) * 2
        let tooBig = try Self.runLimited(kiln, [model, "-p", "hello", "-n", "1", "--ctx", String(beyondMachine)] + f32)
        #expect(tooBig.status == 2)
        #expect(tooBig.stderr.contains("more than this machine's"), "\(tooBig.stderr)")

        // 5.1 GB: less than this machine's memory (the suite needs more than that) but more
        // than the 4 GB the process may map.
        let beyondLimit = 20_000_000
        #expect(beyondLimit * 256 < Int(ProcessInfo.processInfo.physicalMemory))
        let refused = try Self.runLimited(kiln, [model, "-p", "hello", "-n", "1", "--ctx", String(beyondLimit)] + f32)
        #expect(refused.status == 2)
        // Keys and values are 2.56 GB each; the second does not fit beside the first.
        #expect(refused.stderr.contains("kiln-run: error: \(model): cannot allocate 2560000000 bytes (2.4 GiB) for the KV cache's values"),
                "\(refused.stderr)")

        // And an ordinary context still works on the same model.
        let fine = try Self.runLimited(kiln, [model, "-p", "hello", "-n", "1", "--ctx", "64", "--temp", "0"])
        #expect(fine.status == 0, "\(fine.stderr)")
    }

    // MARK: .npz

    /// An .npz member that honestly inflates to 4.8 GB (zeros, 4.7 MB compressed) was inflated
    /// into one allocation and aborted under a 4 GB limit. It is refused with an error naming the
    /// file, the member, its offset and the size, and nothing is left at the output path.
    @Test(.enabled(if: python3() != nil, "needs python3"))
    func inflatingMoreThanTheProcessMayHoldIsAnError() throws {
        let directory = TemporaryDirectory()
        let source = directory.file("big.npz"), output = directory.file("big.kiln")
        let made = try run(python3()!, [Repository.path("Tools/hostile/make_big_npz.py"), source])
        #expect(made.status == 0, "\(made.stderr)")
        let size = try #require(FileManager.default.attributesOfItem(atPath: source)[.size] as? Int)
        #expect(size < 8 << 20)

        let result = try Self.runLimited(Repository.executable("kiln"), ["convert", source, "-o", output])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("kiln: error: \(source): byte 55: zip member 'x.npy': cannot allocate 4800000128 bytes"),
                "\(result.stderr)")
        #expect(directory.contents.sorted() == ["big.npz"])
    }

    // MARK: Vocabulary

    /// A GGUF whose last token (id 6) is `length` NUL bytes (valid UTF-8, and sparse on disk), of
    /// the given kind (3 = control, which went into the special-token matcher).
    static func ggufWithLongToken(_ path: String, length: Int, kind: Int32) throws {
        var out: [UInt8] = Array("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        let tokens = ["h", "e", "l", "o", "he", "ll"]
        u32(3); u64(0); u64(4)
        string("general.architecture"); u32(8); string("llama")
        string("tokenizer.ggml.model"); u32(8); string("gpt2")
        string("tokenizer.ggml.token_type"); u32(9); u32(5); u64(UInt64(tokens.count + 1))
        for k in Array(repeating: 1, count: tokens.count) + [kind] { withUnsafeBytes(of: k.littleEndian) { out += $0 } }
        // The tokens come last, so the long one's bytes run to the end of the file and can be
        // left as a hole.
        string("tokenizer.ggml.tokens"); u32(9); u32(8); u64(UInt64(tokens.count + 1))
        for token in tokens { string(token) }
        u64(UInt64(length))
        try writeFile(path, out)
        #expect(truncate(path, off_t(out.count + length)) == 0)
    }

    /// A 100 MB token grew the tokenizer to 3.6 GB and aborted; a 10 MB control token cost
    /// 1.1 GB. Tokens longer than `TokenizerSpec.maxTokenBytes` are refused, naming the key and
    /// its offset.
    @Test(arguments: [(100_000_000, Int32(1)), (10_000_000, Int32(3))])
    func hugeVocabularyTokenIsRefused(length: Int, kind: Int32) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("long-token.gguf")
        try Self.ggufWithLongToken(path, length: length, kind: kind)
        let result = try Self.runLimited(Repository.executable("kiln-run"), ["tokenize", path, "hello", "--json"])
        #expect(result.status == 1, "\(result.stderr)")
        // Under --json the error is JSON on stdout (`{"error": {...}}`), never a partial result.
        let error = try #require(try JSONValue.parse(result.stdout)["error"], "\(result.stdout)")
        #expect(error["file"]?.stringValue == path, "\(result.stdout)")
        #expect(error["offset"] != nil, "\(result.stdout)")
        #expect(error["description"]?.stringValue?.contains(
            "metadata key 'tokenizer.ggml.tokens': token 6 is \(length) bytes; tokens may be at most 16384 bytes") == true,
                "\(result.stdout)")
        let plain = try Self.runLimited(Repository.executable("kiln-run"), ["tokenize", path, "hello"])
        #expect(plain.status == 1 && plain.stdout.isEmpty, "\(plain.stderr)")
        #expect(plain.stderr.contains("kiln-run: error: \(path): byte "), "\(plain.stderr)")
    }

    /// The same file with a token just inside the limit tokenizes, with the ids the merges give.
    @Test func tokenAtTheLimitStillWorks() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("limit-token.gguf")
        try Self.ggufWithLongToken(path, length: 16_384, kind: 3)
        let result = try run(Repository.executable("kiln-run"), ["tokenize", path, "hello", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        // No merges: one id per byte, h e l l o.
        let ids = try JSONValue.parse(result.stdout)["ids"]?.arrayValue?.compactMap(\.intValue)
        #expect(ids == [0, 1, 2, 2, 3], "\(result.stdout)")
    }
}
