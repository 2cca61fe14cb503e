import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine

/// Options every command that runs a model shares.
struct RuntimeOptions: ParsableArguments {
    @Option(name: .shortAndLong, parsing: .unconditional, help: "Threads for the matrix products (default: all cores).")
    var threads: Int?

    @Option(help: "Input format, when it cannot be recognised from the file.")
    var from: String?

    @Flag(help: "Run a GGUF's q4_0/q8_0/q4_1/q5_0/q5_1 blocks as stored instead of interleaving them at load (same results, slower).")
    var noRepack = false

    @Flag(help: "Skip checking a .kiln file's tensor checksums in the background while it runs.")
    var noVerify = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1; got \(threads)") }
    }

    /// Opens the model at `path` (a file, or a Hugging Face folder) and starts checking a
    /// `.kiln` file's checksums on a background thread (see `BackgroundVerification`).
    func load(_ path: String) throws -> LoadedModel {
        if let threads { RuntimeSettings.setThreads(threads) }
        let start = DispatchTime.now()
        let model = try CanonicalModel.open(path, format: from)
        if !noVerify, let file = model.reader as? KilnFile { BackgroundVerification.start(file, path: path) }
        let transformer = try Transformer(model: model, repack: !noRepack)
        return LoadedModel(model: model, transformer: transformer,
                           loadSeconds: seconds(since: start))
    }
}

struct LoadedModel {
    let model: CanonicalModel
    let transformer: Transformer
    let loadSeconds: Double

    /// The load statistics line's note on repacking, empty when nothing was repacked.
    var repackNote: String {
        transformer.repackedBytes == 0 ? "" : String(format: " (%.1f MiB repacked)", Double(transformer.repackedBytes) / 1_048_576)
    }

    func tokenizer() throws -> BPETokenizer {
        guard let spec = model.tokenizer else {
            throw KilnError(.unsupported, "the model file has no tokenizer; pass --ids", file: model.reader.paths.first)
        }
        return try BPETokenizer(spec)
    }
}
