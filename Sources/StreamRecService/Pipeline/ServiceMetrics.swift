import Metrics
import Prometheus
import Synchronization

/// The service's metrics, built once against a Prometheus registry that `GET /metrics` renders.
/// Dimensions stay low-cardinality: event type and input partition, never user or item ids.
public final class ServiceMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory

    private let eventsByType: [String: Metrics.Counter]
    let decodeErrors: Metrics.Counter
    let deadLetters: Metrics.Counter
    let duplicates: Metrics.Counter
    let recommendationsPublished: Metrics.Counter
    let checkpoints: Metrics.Counter
    let checkpointDuration: Metrics.Timer
    let batchDuration: Metrics.Timer
    let eventToPublishLatency: Metrics.Timer
    let users: Metrics.Gauge
    let items: Metrics.Gauge
    let snapshotAge: Metrics.Gauge
    let inFlightMessages: Metrics.Gauge
    let pendingRefreshes: Metrics.Gauge
    private let lagGauges: Mutex<[Int32: Metrics.Gauge]>

    /// The event types with their own counter; anything else is counted as `other`.
    static let eventTypes = ["search", "click", "view", "cart", "purchase", "item"]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // Sub-millisecond resolution where the latency goal (p99 < 50 ms) needs it.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        self.factory = factory
        var eventsByType: [String: Metrics.Counter] = [:]
        for type in Self.eventTypes + ["other"] {
            eventsByType[type] = Metrics.Counter(label: "streamrec_events_consumed_total", dimensions: [("type", type)], factory: factory)
        }
        self.eventsByType = eventsByType
        decodeErrors = Metrics.Counter(label: "streamrec_decode_errors_total", factory: factory)
        deadLetters = Metrics.Counter(label: "streamrec_dead_letters_total", factory: factory)
        duplicates = Metrics.Counter(label: "streamrec_duplicate_events_total", factory: factory)
        recommendationsPublished = Metrics.Counter(label: "streamrec_recommendations_published_total", factory: factory)
        checkpoints = Metrics.Counter(label: "streamrec_checkpoints_total", factory: factory)
        checkpointDuration = Metrics.Timer(label: "streamrec_checkpoint_write_duration_seconds", factory: factory)
        batchDuration = Metrics.Timer(label: "streamrec_batch_duration_seconds", factory: factory)
        eventToPublishLatency = Metrics.Timer(label: "streamrec_event_to_publish_latency_seconds", factory: factory)
        users = Metrics.Gauge(label: "streamrec_users", factory: factory)
        items = Metrics.Gauge(label: "streamrec_items", factory: factory)
        snapshotAge = Metrics.Gauge(label: "streamrec_snapshot_age_seconds", factory: factory)
        inFlightMessages = Metrics.Gauge(label: "streamrec_producer_in_flight_messages", factory: factory)
        pendingRefreshes = Metrics.Gauge(label: "streamrec_pending_refreshes", factory: factory)
        lagGauges = Mutex([:])
    }

    func countEvent(type: String, count: Int = 1) {
        (eventsByType[type] ?? eventsByType["other"])?.increment(by: Int64(count))
    }

    func recordLag(partition: Int32, messages: Int64) {
        let gauge = lagGauges.withLock { gauges in
            if let gauge = gauges[partition] { return gauge }
            let gauge = Metrics.Gauge(label: "streamrec_consumer_lag", dimensions: [("partition", String(partition))], factory: factory)
            gauges[partition] = gauge
            return gauge
        }
        gauge.record(messages)
    }

    /// Prometheus text exposition format.
    public func render() -> String {
        registry.emitToString()
    }
}
