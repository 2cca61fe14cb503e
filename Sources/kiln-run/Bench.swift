import ArgumentParser
import Foundation
import Kiln

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Kiln: file open time and verify throughput, or compression of a model's float tensors.",
        discussion: """
            --file-io writes a 10 MiB and a 2 GiB .kiln file (in --dir, default the system's temporary \
            directory), then times opening each (median of many opens) and verifying the large one.
            --compression FILE compresses every float tensor of FILE with zstd, with and without the \
            byte-plane shuffle, and reports the ratios.
            """)

    @Argument(help: "A model to benchmark: prompt processing and generation speed, load time, peak memory.")
    var model: String?

    @Option(name: .short, help: "Prompt tokens for the model benchmark.")
    var p: Int = 128

    @Option(name: .short, help: "Tokens to generate for the model benchmark.")
    var n: Int = 64

    @Option(help: "Threads for the model benchmark (default: all cores).")
    var threads: Int?

    @Flag(help: "Benchmark opening and verifying .kiln files.")
    var fileIO = false

    @Option(help: ArgumentHelp("Benchmark zstd compression of this model's float tensors.", valueName: "file"))
    var compression: String?

    @Option(help: "zstd level for --compression.")
    var level: Int32 = 3

    @Option(help: "Directory for --file-io's files.")
    var dir: String = NSTemporaryDirectory()

    @Option(help: "Size of the large --file-io file, in MiB.")
    var largeMiB: Int = 2048

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard model != nil || fileIO || compression != nil else {
            throw ValidationError("give a MODEL, or choose --file-io or --compression FILE")
        }
        guard p >= 1, n >= 1 else { throw ValidationError("-p and -n must be at least 1") }
    }

    func run() throws {
        var results: [String: JSONValue] = [:]
        if let model {
            let result = try ModelBenchmark(path: model, promptTokens: p, generatedTokens: n, threads: threads, log: !json).run()
            // The model benchmark alone prints its flat object, as documented.
            if json && !fileIO && compression == nil { print(result.serialized(pretty: true)); return }
            results["model"] = result
        }
        if fileIO { results["file_io"] = try FileIOBenchmark(directory: dir, largeMiB: largeMiB, log: !json).run() }
        if let compression {
            results["compression"] = try CompressionBenchmark(path: compression, level: level, log: !json).run()
        }
        if json { print(JSONValue.object(results).serialized(pretty: true)) }
    }
}
