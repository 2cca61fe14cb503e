/// How `kiln-run serve` serves: address, batching, limits.
package struct ServerOptions: Sendable {
    package var host = "127.0.0.1"
    /// 0 picks a free port (the one bound is reported by `onListening`).
    package var port = 8080
    /// Sequences decoded together in one batched step (each with its own KV cache).
    package var parallel = 4
    /// KV cache positions per sequence (prompt + generated).
    package var contextLength = 4096
    package var halfPrecisionKVCache = false
    /// When set, every endpoint but /health and /metrics needs `Authorization: Bearer KEY`.
    package var apiKey: String?
    /// Requests waiting for a free sequence slot; more are refused with 429.
    package var queueLimit = 64
    /// The largest request body accepted (413 beyond).
    package var maxBodyBytes = 1 << 20
    /// Prompt tokens prefilled per step, shared by the sequences being prefilled, so that a
    /// long prompt delays the others' next token by one chunk's time, not the whole prompt's.
    package var prefillChunk = 64
    /// After SIGTERM, how long running generations may take to finish before they are cut.
    package var gracePeriodSeconds = 30.0
    /// The name `/v1/models` lists and responses carry.
    package var modelName = "kiln"

    package init() {}
}
