/// Settings shared by ``KafkaProducer``, ``KafkaConsumer`` and ``KafkaAdmin``.
///
/// Any librdkafka property can be set through ``properties`` (for example `security.protocol`,
/// `sasl.mechanisms`, `ssl.ca.location`), so SASL/SSL clusters need nothing special here. The typed fields win
/// over the same keys in ``properties``. See librdkafka's CONFIGURATION.md for the keys.
public struct KafkaConfiguration: Sendable {
    /// Comma-separated `host:port` list (`bootstrap.servers`). No default.
    public var bootstrapServers: String
    /// Raw librdkafka properties, passed through unchanged. Default: empty.
    public var properties: [String: String]
    /// How often librdkafka emits its statistics JSON, parsed into ``KafkaStatistics``
    /// (`statistics.interval.ms`). Default: `nil` (off).
    public var statisticsInterval: Duration?

    public init(bootstrapServers: String, properties: [String: String] = [:], statisticsInterval: Duration? = nil) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
        self.statisticsInterval = statisticsInterval
    }

    /// What every client of ours sets unless ``properties`` says otherwise. `socket.nagle.disable`: with
    /// Nagle's algorithm on (librdkafka's default; Kafka's Java client always turns it off) a request written
    /// while an earlier one is unacknowledged waits for the peer's delayed ACK, up to ~40 ms on Linux; that
    /// was most of the event → recommendation p99 on the embedded broker (docs/performance.md, session 9).
    public static let clientDefaults = ["socket.nagle.disable": "true"]

    /// The properties librdkafka receives: ``clientDefaults``, then the client's `defaults`, then the caller's
    /// own keys.
    func librdkafkaProperties(defaults: [String: String] = [:], overrides: [String: String] = [:]) -> [String: String] {
        var result = Self.clientDefaults.merging(defaults) { _, client in client }.merging(properties) { _, caller in caller }
        result["bootstrap.servers"] = bootstrapServers
        if let statisticsInterval {
            result["statistics.interval.ms"] = String(max(1, statisticsInterval.milliseconds))
        }
        return result.merging(overrides) { _, forced in forced }
    }
}

extension Duration {
    /// Whole milliseconds, rounded down, clamped to what librdkafka's `int` timeouts take.
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int(clamping: min(max(total, 0), Int64(Int32.max)))
    }
}
