import ArgumentParser
import Foundation
import Kiln

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Kiln: a model's speed, file open time and verify throughput, the hashes, compression of float tensors, the compute kernels or attention.",
        discussion: """
            --file-io writes a 10 MiB and a 2 GiB .kiln file (in --dir, default the system's temporary \
            directory), then times opening each (median of many opens) and verifying the large one.
            --hashes times SHA-256 (provenance) and XXH64 (checksums) on one core, in memory.
            --compression FILE compresses every float tensor of FILE with zstd, with and without the \
            byte-plane shuffle, and reports the ratios.
            --kernels measures this machine's streaming read bandwidth (1 and 2 threads), then times \
            every matrix-product kernel on every tier at SmolLM2-135M and Llama-7B shapes, batch 1 and \
            64, with weights cold (rotating over 256 MiB of copies), and reports GB/s of weights \
            streamed, GFLOP/s, the fraction of the measured bandwidth and of the tier's compute \
            ceiling (its peak f32 FMA or int8 dot rate on one core, × threads; on AVX-512 also the \
            dots' rate with the f32 steps a quantised type's block adds: that type's bound).
            --attention times one layer of decode attention on every tier at SmolLM2-135M and \
            Llama-3-8B head shapes, 128 and 2,048 cached positions, 1 and 8 sequences, f16 and f32 \
            caches (cold, rotating over 256 MiB of copies, unless --hot), and reports GB/s of keys and values read \
            and the fraction of the streaming read bandwidth sampled beside it.
            """)

    @Argument(help: "A model to benchmark: prompt processing and generation speed, load time, peak memory.")
    var model: String?

    @Option(name: .short, help: "Prompt tokens for the model benchmark.")
    var p: Int = 128

    @Option(name: .short, help: "Tokens to generate for the model benchmark.")
    var n: Int = 64

    @Option(help: "Also time N sequences decoding together in batched steps (continuous batching, as `serve` runs them) against one.")
    var sequences: Int?

    @Option(name: .shortAndLong, help: "Threads for the model and kernel benchmarks (default: all cores).")
    var threads: Int?

    @Flag(help: "Run a GGUF's row-major blocks as stored instead of interleaving them at load.")
    var noRepack = false

    @OptionGroup var cache: KVCacheArguments

    @Flag(help: "Benchmark opening and verifying .kiln files.")
    var fileIO = false

    @Flag(help: "Benchmark SHA-256 and XXH64 on one core.")
    var hashes = false

    @Option(help: ArgumentHelp("Benchmark zstd compression of this model's float tensors.", valueName: "file"))
    var compression: String?

    @Flag(help: "Benchmark the matrix-product kernels against the memory bandwidth.")
    var kernels = false

    @Flag(help: "Benchmark decode attention (one layer, cold KV caches) against the memory bandwidth.")
    var attention = false

    @Option(help: ArgumentHelp("Tiers for --kernels and --attention, comma-separated (default: every C tier this machine runs).", valueName: "tiers"))
    var tiers: String?

    @Option(help: ArgumentHelp("Weight types for --kernels, comma-separated (default: every type with a kernel).", valueName: "types"))
    var types: String?

    @Option(help: ArgumentHelp("Shapes for --kernels, comma-separated ROWSxCOLS (default: the six standard shapes).", valueName: "shapes"))
    var shapes: String?

    @Option(help: ArgumentHelp("Batch sizes for --kernels, comma-separated.", valueName: "sizes"))
    var batches: String = "1,64"

    @Flag(help: "--kernels and --attention with the weights or caches kept in cache (one copy, read again by every call): the kernels' compute speed.")
    var hot = false

    @Option(help: "zstd level for --compression.")
    var level: Int32 = 3

    @Option(help: "Directory for --file-io's files.")
    var dir: String = NSTemporaryDirectory()

    // Named explicitly: ArgumentParser would spell the Swift name `--large-mi-b`.
    @Option(name: .customLong("large-mib"), help: "Size of the large --file-io file, in MiB.")
    var largeMiB: Int = 2048

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard model != nil || fileIO || hashes || compression != nil || kernels || attention else {
            throw ValidationError("give a MODEL, or choose --file-io, --hashes, --compression FILE, --kernels or --attention")
        }
        guard p >= 1, n >= 1 else { throw ValidationError("-p and -n must be at least 1; got -p \(p) -n \(n)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1; got \(threads)") }
        guard largeMiB >= 1 else { throw ValidationError("--large-mib must be at least 1; got \(largeMiB)") }
        if let sequences, !(1...256).contains(sequences) { throw ValidationError("--sequences must be between 1 and 256; got \(sequences)") }
        _ = try kernelBenchmark()
    }

    func run() throws {
        var results: [String: JSONValue] = [:]
        if let model {
            let result = try ModelBenchmark(path: model, promptTokens: p, generatedTokens: n, threads: threads, repack: !noRepack,
                                        halfPrecisionCache: cache.halfPrecision, log: !json).run()
            // The model benchmark alone prints its flat object, as documented.
            if let sequences {
                let transformer = try Transformer(model: try CanonicalModel.open(model), repack: !noRepack)
                results["batched"] = try BatchBenchmark(transformer: transformer, promptTokens: p, generatedTokens: n,
                                                        sequences: sequences, halfPrecisionCache: cache.halfPrecision, log: !json).run()
            }
            if json && !fileIO && !hashes && compression == nil && !kernels && !attention && sequences == nil {
                print(result.serialized(pretty: true))
                return
            }
            results["model"] = result
        }
        if fileIO { results["file_io"] = try FileIOBenchmark(directory: dir, largeMiB: largeMiB, log: !json).run() }
        if hashes { results["hashes"] = try HashBenchmark(megabytes: 256, log: !json).run() }
        if let compression {
            results["compression"] = try CompressionBenchmark(path: compression, level: level, log: !json).run()
        }
        if kernels { results["kernels"] = try kernelBenchmark().run() }
        if attention {
            let benchmark = try kernelBenchmark()
            results["attention"] = AttentionBenchmark(tiers: benchmark.tiers, threads: benchmark.threads, hot: hot, log: !json).run()
        }
        if json { print(JSONValue.object(results).serialized(pretty: true)) }
    }

    private func kernelBenchmark() throws -> KernelBenchmark {
        func list(_ text: String?) -> [String]? { text?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let tierList = try list(tiers)?.map { name in
            guard let tier = KernelTier(rawValue: name), tier.isSupported else {
                throw ValidationError("unknown or unsupported tier '\(name)'; this machine runs \(KernelTier.supported.map(\.rawValue))")
            }
            return tier
        } ?? KernelTier.supported.filter { $0 != .reference }
        let typeList = try list(types)?.map { name in
            guard let type = ElementType.named(name) else { throw ValidationError("unknown element type '\(name)'") }
            return type
        } ?? KernelBenchmark.defaultTypes
        let shapeList = try list(shapes)?.map { text in
            let parts = text.lowercased().split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { throw ValidationError("shape '\(text)' is not ROWSxCOLS") }
            return (rows: parts[0], cols: parts[1])
        } ?? KernelBenchmark.defaultShapes
        let batchList = try list(batches)!.map { text in
            guard let n = Int(text), n > 0 else { throw ValidationError("batch '\(text)' is not a positive integer") }
            return n
        }
        return KernelBenchmark(tiers: tierList, types: typeList, shapes: shapeList, batches: batchList,
                               threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, hot: hot, log: !json)
    }
}
