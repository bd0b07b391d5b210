import Logging
import ServiceLifecycle
import StreamRecEngine

/// `streamrec serve` as a value: the pipeline and the HTTP server over one live state, run as a
/// `ServiceGroup`. SIGTERM/SIGINT finish the batch, flush, checkpoint, commit and leave the group.
public struct StreamRecServer: Sendable {
    public let configuration: ServiceConfiguration
    public let state: LiveState
    public let metrics: ServiceMetrics
    let logger: Logger

    /// Graceful shutdown must end within 10 s; the rest is the cancellation grace.
    public static let maximumGracefulShutdown = Duration.seconds(8)

    public init(configuration: ServiceConfiguration, logger: Logger) {
        self.configuration = configuration
        self.state = LiveState(engine: RecommendationEngine(configuration: configuration.engine), filters: configuration.filters)
        self.metrics = ServiceMetrics()
        self.logger = logger
    }

    /// The services in start order: the pipeline first, then HTTP (stopped first).
    /// - Parameter onHTTPRunning: called with the bound port once HTTP listens.
    public func services(onHTTPRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let pipeline = StreamingPipeline(configuration: configuration, state: state, metrics: metrics, logger: logger)
        var services = [
            ServiceGroupConfiguration.ServiceConfiguration(
                service: pipeline, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup)
        ]
        if configuration.http.isEnabled {
            let http = HTTPServer.buildApplication(
                configuration: configuration.http, state: state, metrics: metrics,
                defaultK: configuration.pipeline.recommendationsPerUser, logger: logger,
                onServerRunning: { port in
                    logger.info("HTTP listening", metadata: ["streamrec.address": "\(configuration.http.host):\(port)"])
                    await onHTTPRunning(port)
                })
            services.append(.init(service: http, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        return services
    }

    /// Runs until SIGTERM/SIGINT (or a service fails, which is rethrown).
    public func run(extraServices: [ServiceGroupConfiguration.ServiceConfiguration] = []) async throws {
        var groupConfiguration = ServiceGroupConfiguration(
            services: services() + extraServices, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = Self.maximumGracefulShutdown
        groupConfiguration.maximumCancellationDuration = .seconds(1)
        try await ServiceGroup(configuration: groupConfiguration).run()
    }
}
