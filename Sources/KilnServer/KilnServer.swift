import Foundation
import Hummingbird
import KilnCore
import KilnRuntime
import Logging
import ServiceLifecycle

/// `kiln-run serve`: OpenAI's HTTP API over one model, its requests decoded together by a
/// continuous-batching scheduler. `run()` serves until SIGTERM or SIGINT, then stops accepting
/// connections, lets running generations finish (up to the grace period) and returns.
package struct KilnServer: Sendable {
    package let model: LanguageModel
    package let options: ServerOptions

    package init(model: LanguageModel, options: ServerOptions) throws {
        guard options.parallel >= 1, options.parallel <= 256 else { throw KilnError(.usage, "--parallel must be between 1 and 256") }
        guard options.contextLength >= 2 else { throw KilnError(.usage, "--ctx must be at least 2") }
        guard options.prefillChunk >= 1 else { throw KilnError(.usage, "--prefill-chunk must be at least 1") }
        guard options.queueLimit >= 0 else { throw KilnError(.usage, "--queue must not be negative") }
        if let key = options.apiKey, key.isEmpty { throw KilnError(.usage, "--api-key must not be empty") }
        self.model = model
        self.options = options
    }

    /// `onListening` receives the bound address (with the port chosen when `port` is 0).
    package func run(onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws {
        var logger = Logger(label: "kiln-run.serve")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .notice
        let metrics = ServerMetrics()
        let scheduler = try BatchScheduler(model: model, options: options, metrics: metrics)
        let routes = APIRoutes(model: model, chatPrompt: try ChatPrompt(tokenizer: model.tokenizer), scheduler: scheduler,
                               metrics: metrics, options: options)
        let router = Router(context: ServerContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.add(middleware: ErrorShapeMiddleware())
        if let key = options.apiKey { router.add(middleware: APIKeyMiddleware(key: key)) }
        routes.add(to: router)

        let host = options.host
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: options.port), serverName: "kiln"),
            onServerRunning: { channel in onListening(host, channel.localAddress?.port ?? 0) },
            logger: logger)
        scheduler.start()
        // Graceful shutdown runs the services in reverse: the HTTP server first (no new
        // connections; requests in flight finish, which needs the scheduler), then the
        // scheduler drains. Past the grace period both are cancelled: generations are cut.
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: SchedulerService(scheduler: scheduler)), .init(service: app)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(options.gracePeriodSeconds * 1000))
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// The scheduler as a service: runs until graceful shutdown reaches it, then drains.
struct SchedulerService: Service {
    let scheduler: BatchScheduler

    func run() async throws {
        try? await gracefulShutdown()
        await withTaskCancellationHandler {
            await scheduler.drain()
        } onCancel: {
            scheduler.cancelAll()
        }
    }
}
