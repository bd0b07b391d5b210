import Logging
import StreamRecKafka

/// The topics `serve` writes, created at start when the cluster lacks them (`kafka.create_topics`): otherwise the
/// first message would leave them to the broker's auto-creation, which makes an output topic that is not
/// compacted (every recommendation kept, not the latest per user) with the broker's default partition count.
///
/// The input topic is never created: its partition count bounds how many instances can share the work, which
/// only its owner can decide. The consumer waits for it to appear.
struct TopicSetup {
    /// One topic to create.
    struct Topic: Sendable, Equatable {
        var name: String
        var partitions: Int
        var replicationFactor: Int
        var config: [String: String] = [:]

        /// The command that creates it by hand, for when the cluster refuses.
        func command(bootstrapServers: String) -> String {
            "kafka-topics.sh --bootstrap-server \(bootstrapServers) --create --topic \(name) --partitions \(partitions)"
                + " --replication-factor \(replicationFactor)"
                + config.sorted { $0.key < $1.key }.map { " --config \($0.key)=\($0.value)" }.joined()
        }
    }

    /// Partitions of a created output topic when the input topic does not exist yet (the compose file's count).
    static let fallbackPartitions = 6
    /// Kafka's usual replication for durable topics, capped by the cluster's size.
    static let preferredReplicationFactor = 3

    let kafka: ServiceConfiguration.Kafka
    let logger: Logger

    /// The topics to create on a cluster with these topics and brokers: the output topic, compacted, with as many
    /// partitions as the input topic (the same keys, so the same spread), and the dead-letter topic with one.
    static func missing(in cluster: KafkaClusterMetadata, for kafka: ServiceConfiguration.Kafka) -> [Topic] {
        let replicationFactor = min(preferredReplicationFactor, max(1, cluster.brokerCount))
        let wanted = [
            Topic(
                name: kafka.outputTopic,
                partitions: cluster.partitionCounts[kafka.inputTopic] ?? fallbackPartitions,
                replicationFactor: replicationFactor, config: ["cleanup.policy": "compact"]),
            Topic(name: kafka.deadLetterTopic, partitions: 1, replicationFactor: replicationFactor),
        ]
        var named = Set<String>()
        return wanted.filter { cluster.partitionCounts[$0.name] == nil && named.insert($0.name).inserted }
    }

    /// Creates what ``missing(in:for:)`` lists. Never fails the start: a cluster that cannot be read or refuses
    /// (no permission, no CreateTopics) is logged with the command to run instead, and the service goes on.
    func createMissingTopics() async {
        let admin: KafkaAdmin
        let cluster: KafkaClusterMetadata
        do {
            admin = try KafkaAdmin(
                configuration: KafkaConfiguration(bootstrapServers: kafka.brokers, properties: kafka.properties),
                logger: logger)
            cluster = try await admin.describeCluster()
        } catch {
            logger.warning(
                "could not read the cluster's topics; creating none",
                metadata: ["streamrec.error": "\(error)"])
            return
        }
        if cluster.partitionCounts[kafka.inputTopic] == nil {
            logger.warning(
                "input topic does not exist yet; waiting for it",
                metadata: ["streamrec.topic": "\(kafka.inputTopic)"])
        }
        for topic in Self.missing(in: cluster, for: kafka) {
            do {
                try await admin.createTopic(
                    topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor,
                    config: topic.config)
                logger.info(
                    "created topic",
                    metadata: [
                        "streamrec.topic": "\(topic.name)", "streamrec.partitions": "\(topic.partitions)",
                        "streamrec.config": "\(topic.config)",
                    ])
            } catch let error as KafkaError where error.code == .topicAlreadyExists {
                continue  // another instance made it meanwhile
            } catch {
                logger.warning(
                    "could not create topic; create it by hand",
                    metadata: [
                        "streamrec.topic": "\(topic.name)", "streamrec.error": "\(error)",
                        "streamrec.command": "\(topic.command(bootstrapServers: kafka.brokers))",
                    ])
                // A cluster that refused one topic refuses the next, after the same wait.
                return
            }
        }
    }
}
