import Foundation
import Prometheus

/// The server's Prometheus metrics (`GET /metrics`, text format 0.0.4): requests by endpoint
/// and status, prompt and generated tokens, the queue, the running sequences and the aggregate
/// generation speed. Prometheus' `rate()` over the token counters gives speed over any window;
/// the tokens/s gauge is the last few seconds' figure for a glance.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let promptTokens: Counter
    let generatedTokens: Counter
    let queueLength: Gauge
    let runningSequences: Gauge
    let tokensPerSecond: Gauge
    let batchSteps: Counter
    private let speed = NSLock()
    // Tokens and seconds of the current speed window (guarded by `speed`).
    nonisolated(unsafe) private var windowTokens = 0
    nonisolated(unsafe) private var windowStart = Date()

    init() {
        promptTokens = registry.makeCounter(descriptor: Self.name("prompt_tokens", "total", "Prompt tokens prefilled."))
        generatedTokens = registry.makeCounter(descriptor: Self.name("generated_tokens", "total", "Tokens generated."))
        queueLength = registry.makeGauge(descriptor: Self.name("queue", "length", "Requests waiting for a sequence slot."))
        runningSequences = registry.makeGauge(descriptor: Self.name("running", "sequences", "Sequences being prefilled or decoded."))
        tokensPerSecond = registry.makeGauge(descriptor: Self.name("generation_tokens", "per_second",
                                                                   "Aggregate generation speed over the last few seconds."))
        batchSteps = registry.makeCounter(descriptor: Self.name("batch_steps", "total", "Batched forward steps run."))
    }

    /// Counts one answered request.
    func request(endpoint: String, status: Int) {
        registry.makeCounter(descriptor: Self.name("requests", "total", "HTTP requests answered, by endpoint and status."),
                             labels: [("endpoint", endpoint), ("status", String(status))]).increment()
    }

    /// Counts generated tokens and refreshes the speed gauge every two seconds or so.
    func generated(_ tokens: Int) {
        generatedTokens.increment(by: Int64(tokens))
        speed.lock(); defer { speed.unlock() }
        windowTokens += tokens
        let elapsed = Date().timeIntervalSince(windowStart)
        if elapsed >= 2 {
            tokensPerSecond.set(Double(windowTokens) / elapsed)
            windowTokens = 0
            windowStart = Date()
        }
    }

    /// When nothing runs the speed is zero, not the last busy window's.
    func idle() {
        speed.lock(); defer { speed.unlock() }
        tokensPerSecond.set(0.0)
        windowTokens = 0
        windowStart = Date()
    }

    func text() -> String { registry.emitToString() }

    /// `kiln_<metric>_<unit>`.
    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "kiln", metricName: metric, unitName: unit, helpText: help)
    }
}
