import Dispatch
import Logging

/// Cluster administration: list and create topics.
public final class KafkaAdmin: Sendable {
    private let client: RDKafkaClient
    private let bootstrapServers: String
    private let blockingQueue = DispatchQueue(label: "streamrec.kafka.admin.blocking", attributes: .concurrent)
    private let timeoutMilliseconds: Int32 = 10_000

    public init(configuration: KafkaConfiguration, logger: Logger) throws {
        client = try RDKafkaClient.makeAuxiliary(properties: configuration.librdkafkaProperties(), logger: logger)
        bootstrapServers = configuration.bootstrapServers
    }

    /// Every topic the cluster reports, with its partition count.
    public func listTopics() async throws -> [String: Int] {
        try await describeCluster().partitionCounts
    }

    /// How many brokers the cluster has and every topic it reports, with its partition count.
    public func describeCluster() async throws -> KafkaClusterMetadata {
        let client = client
        let timeout = timeoutMilliseconds
        return try await blockingQueue.runBlocking { try client.clusterMetadata(timeoutMilliseconds: timeout) }
    }

    /// Creates a topic.
    ///
    /// On a real cluster this is `CreateTopics`. librdkafka's mock cluster does not implement that request, so
    /// when `bootstrapServers` points at an ``EmbeddedKafka`` running in this process the topic is made through
    /// the mock API instead (`config` is then ignored: the mock has no topic configs).
    ///
    /// - Throws: ``KafkaError`` with the broker's reason, e.g. `TOPIC_ALREADY_EXISTS` (code 36).
    public func createTopic(
        _ name: String, partitions: Int, replicationFactor: Int = 1, config: [String: String] = [:]
    ) async throws {
        guard partitions > 0, replicationFactor > 0 else {
            throw KafkaError(
                code: .invalidArgument,
                reason: "topic '\(name)': partitions (\(partitions)) and replication factor (\(replicationFactor)) must be at least 1")
        }
        if let embedded = EmbeddedKafka.running(at: bootstrapServers) {
            try embedded.createTopic(name, partitions: partitions, replicationFactor: replicationFactor)
            return
        }
        let client = client
        let timeout = timeoutMilliseconds
        try await blockingQueue.runBlocking {
            try client.createTopic(
                name, partitions: partitions, replicationFactor: replicationFactor, config: config,
                timeoutMilliseconds: timeout)
        }
    }
}

/// What a metadata request says about a cluster.
public struct KafkaClusterMetadata: Sendable, Equatable {
    public var brokerCount: Int
    /// Topic name → partition count.
    public var partitionCounts: [String: Int]

    public init(brokerCount: Int, partitionCounts: [String: Int]) {
        self.brokerCount = brokerCount
        self.partitionCounts = partitionCounts
    }
}
