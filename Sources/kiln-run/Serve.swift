import ArgumentParser
import Foundation
import Kiln
import KilnCommandLine
import KilnServer

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the model over OpenAI's HTTP API (chat, completions, models), decoding concurrent requests as one batch.",
        discussion: "Stops on SIGTERM or SIGINT: no new connections, running generations finish within --grace seconds, exit 0. See docs/SERVING.md.")

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "Address to listen on (loopback by default; put a proxy with TLS in front to serve others).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed at start).")
    var port = 8080

    @Option(help: "Sequences decoded together in one batched step (each with its own KV cache).")
    var parallel = 4

    @Option(help: "KV cache positions per sequence, prompt and reply together; default min(model context, 4096).")
    var ctx: Int?

    @Option(help: "Require 'Authorization: Bearer KEY' on every endpoint but /health and /metrics.")
    var apiKey: String?

    @OptionGroup var cache: KVCacheArguments

    @Option(help: "Requests that may wait for a free slot; more are answered 429 with Retry-After.")
    var queue = 64

    @Option(help: "The largest request body accepted, in bytes (413 beyond).")
    var maxBody = 1 << 20

    @Option(help: "Prompt tokens prefilled per step (a long prompt delays the others' next token by one such chunk).")
    var prefillChunk = 64

    @Option(help: "Seconds running generations may take to finish after SIGTERM.")
    var grace = 30.0

    @Option(help: "The model name /v1/models lists (default: the file's name).")
    var modelName: String?

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard (1...256).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 256") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        if let ctx, ctx < 2 { throw ValidationError("--ctx must be at least 2") }
        guard queue >= 0, maxBody >= 1, prefillChunk >= 1, grace >= 0 else {
            throw ValidationError("--queue, --max-body, --prefill-chunk and --grace must be positive")
        }
    }

    func run() throws {
        let loaded = try runtime.load(model)
        let language = try LanguageModel(transformer: loaded.transformer)
        var options = ServerOptions()
        options.host = host
        options.port = port
        options.parallel = parallel
        options.contextLength = ctx ?? min(language.config.context, 4096)
        options.halfPrecisionKVCache = cache.halfPrecision
        options.apiKey = apiKey
        options.queueLimit = queue
        options.maxBodyBytes = maxBody
        options.prefillChunk = prefillChunk
        options.gracePeriodSeconds = grace
        options.modelName = modelName ?? URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        let server = try KilnServer(model: language, options: options)
        let parallel = parallel, context = options.contextLength, name = options.modelName
        try runAsync {
            try await server.run { host, port in
                printError("kiln-run serve: \(name) on http://\(host):\(port) (load \(String(format: "%.2f", loaded.loadSeconds)) s, parallel \(parallel), ctx \(context))")
            }
        }
        printError("kiln-run serve: stopped")
    }
}

/// Runs async work from the synchronous command tree, blocking this thread until it ends.
func runAsync(_ work: @escaping @Sendable () async throws -> Void) throws {
    final class Outcome: @unchecked Sendable { var error: (any Error)? }  // written before the signal, read after
    let outcome = Outcome(), done = DispatchSemaphore(value: 0)
    Task {
        do { try await work() } catch { outcome.error = error }
        done.signal()
    }
    done.wait()
    if let error = outcome.error { throw error }
}
