/// How `kiln-run serve` serves: address, batching, limits.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (the one bound is reported by `onListening`).
    public var port = 8080
    /// Sequences decoded together in one batched step (each with its own KV cache).
    public var parallel = 4
    /// KV cache positions per sequence (prompt + generated).
    public var contextLength = 4096
    public var halfPrecisionKVCache = false
    /// When set, every endpoint but /health and /metrics needs `Authorization: Bearer KEY`.
    public var apiKey: String?
    /// Requests waiting for a free sequence slot; more are refused with 429.
    public var queueLimit = 64
    /// The largest request body accepted (413 beyond).
    public var maxBodyBytes = 1 << 20
    /// Prompt tokens prefilled per step, shared by the sequences being prefilled, so that a
    /// long prompt delays the others' next token by one chunk's time, not the whole prompt's.
    public var prefillChunk = 64
    /// After SIGTERM, how long running generations may take to finish before they are cut.
    public var gracePeriodSeconds = 30.0
    /// The name `/v1/models` lists and responses carry.
    public var modelName = "kiln"

    public init() {}
}
