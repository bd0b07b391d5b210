import Logging
import ServiceLifecycle
import Synchronization

/// A Kafka cluster inside this process: librdkafka's mock cluster, listening on 127.0.0.1.
///
/// Any Kafka client can use ``bootstrapServers``. The mock brokers listen on ephemeral ports; with a fixed
/// `port`, that port is bound first (failing with ``KafkaError/Code/portInUse`` when taken) and forwards each
/// connection to a mock broker — clients then learn the brokers' own addresses from metadata.
///
/// The mock is for development and tests: it keeps only the last few MB of each partition, does not answer
/// offsets-for-times or CreateTopics (see ``KafkaAdmin/createTopic(_:partitions:replicationFactor:config:)``),
/// and auto-creates topics it is asked about.
public final class EmbeddedKafka: Sendable {
    /// Comma-separated `host:port` list for `bootstrap.servers`.
    public let bootstrapServers: String
    public let brokerCount: Int
    /// `nil` after ``shutdown()``.
    private let cluster: Mutex<RDKafkaMockCluster?>
    private let forwarder: PortForwarder?
    private let logger: Logger
    /// Every address that reaches this cluster (forwarded port and the brokers' own).
    private let registryKey: String

    /// - Parameters:
    ///   - brokers: mock brokers, with ids 1...brokers.
    ///   - port: a fixed loopback port for bootstrapping; `nil` uses the brokers' ephemeral ports.
    public init(brokers: Int = 1, port: Int? = nil, logger: Logger) throws {
        guard brokers >= 1 else {
            throw KafkaError(code: .invalidArgument, reason: "an embedded cluster needs at least 1 broker, got \(brokers)")
        }
        // Bind before starting anything, so a taken port fails fast with nothing to clean up.
        let listener = try port.map { try PortForwarder.Listener(port: $0) }
        let cluster = try RDKafkaMockCluster(brokers: brokers, logger: logger)
        let brokerAddresses = cluster.bootstrapServers
        if let listener {
            forwarder = PortForwarder(listener: listener, targetPorts: cluster.brokerPorts, logger: logger)
            bootstrapServers = "127.0.0.1:\(listener.port)"
        } else {
            forwarder = nil
            bootstrapServers = brokerAddresses
        }
        self.cluster = Mutex(cluster)
        self.brokerCount = brokers
        self.logger = logger
        self.registryKey = forwarder == nil ? brokerAddresses : "\(bootstrapServers),\(brokerAddresses)"
        Self.registry.withLock { $0[registryKey] = WeakReference(value: self) }
        forwarder?.start()
        logger.info("embedded Kafka started", metadata: ["kafka.bootstrap": "\(bootstrapServers)", "kafka.brokers": "\(brokers)"])
    }

    deinit { shutdown() }

    /// Creates a topic with `partitions` partitions (replicas are placed on the mock brokers).
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws {
        guard partitions > 0 else {
            throw KafkaError(code: .invalidArgument, reason: "topic '\(name)' needs at least 1 partition, got \(partitions)")
        }
        try withCluster {
            try $0.createTopic(name, partitions: partitions, replicationFactor: min(replicationFactor, brokerCount))
        }
    }

    /// Makes a broker refuse connections and drop the ones it has, until ``setBrokerUp(_:)``.
    public func setBrokerDown(_ brokerID: Int32) throws { try withCluster { try $0.setBrokerDown(brokerID) } }

    public func setBrokerUp(_ brokerID: Int32) throws { try withCluster { try $0.setBrokerUp(brokerID) } }

    /// Delays every response of a broker by `rtt`.
    public func setRoundTripTime(_ brokerID: Int32, _ rtt: Duration) throws {
        try withCluster { try $0.setRoundTripTime(brokerID, milliseconds: rtt.milliseconds) }
    }

    /// Stops forwarding and destroys the cluster; clients still connected see the brokers disappear. Idempotent.
    public func shutdown() {
        forwarder?.stop()
        Self.registry.withLock { $0[registryKey] = nil }
        // Taken out under the lock, destroyed outside it.
        let stopped = cluster.withLock { cluster in
            defer { cluster = nil }
            return cluster
        }
        if stopped != nil { logger.info("embedded Kafka stopped", metadata: ["kafka.bootstrap": "\(bootstrapServers)"]) }
    }

    private func withCluster(_ body: (RDKafkaMockCluster) throws -> Void) throws {
        let current = cluster.withLock { $0 }
        guard let current else { throw KafkaError(code: .closed, reason: "the embedded Kafka at \(bootstrapServers) is shut down") }
        try body(current)
    }

    // MARK: Clusters of this process, so KafkaAdmin can create topics through the mock API.

    private struct WeakReference: @unchecked Sendable {
        // Written once at registration, read under the registry lock.
        weak var value: EmbeddedKafka?
    }
    private static let registry = Mutex<[String: WeakReference]>([:])

    /// The running embedded cluster that owns one of the `bootstrapServers` addresses, if any.
    static func running(at bootstrapServers: String) -> EmbeddedKafka? {
        let addresses = Set(bootstrapServers.split(separator: ",").map { $0.trimmingPrefix("PLAINTEXT://") }.map(String.init))
        return registry.withLock { registry in
            registry.first { key, reference in
                reference.value != nil
                    && !addresses.isDisjoint(with: key.split(separator: ",").map(String.init))
            }?.value.value
        }
    }
}

extension EmbeddedKafka: Service {
    /// Serves until graceful shutdown (or cancellation), then shuts the cluster down.
    public func run() async throws {
        defer { shutdown() }
        try await gracefulShutdown()
    }
}
