import Foundation
import Logging
import StreamRecKafka
import Testing
@testable import StreamRecService

@Suite struct TopicSetupTests {
    static let kafka: ServiceConfiguration.Kafka = {
        var kafka = ServiceConfiguration.Kafka()
        kafka.inputTopic = "events"
        kafka.outputTopic = "recommendations"
        kafka.deadLetterTopic = "events.dlq"
        return kafka
    }()

    @Test func outputIsCompactedWithTheInputsPartitionsAndTheDeadLetterTopicHasOne() {
        let cluster = KafkaClusterMetadata(brokerCount: 1, partitionCounts: ["events": 12])
        #expect(
            TopicSetup.missing(in: cluster, for: Self.kafka) == [
                .init(name: "recommendations", partitions: 12, replicationFactor: 1, config: ["cleanup.policy": "compact"]),
                .init(name: "events.dlq", partitions: 1, replicationFactor: 1),
            ])
    }

    @Test func withoutAnInputTopicTheOutputGetsSixPartitionsAndReplicationIsCappedAtThree() {
        let cluster = KafkaClusterMetadata(brokerCount: 5, partitionCounts: [:])
        let topics = TopicSetup.missing(in: cluster, for: Self.kafka)
        #expect(topics.map(\.partitions) == [6, 1])
        #expect(topics.map(\.replicationFactor) == [3, 3])
        #expect(!topics.contains { $0.name == "events" }, "the input topic is never created")
    }

    @Test func existingTopicsAreLeftAlone() {
        let cluster = KafkaClusterMetadata(brokerCount: 3, partitionCounts: ["events": 6, "recommendations": 2, "events.dlq": 1])
        #expect(TopicSetup.missing(in: cluster, for: Self.kafka).isEmpty)
        let onlyOutput = KafkaClusterMetadata(brokerCount: 3, partitionCounts: ["events": 6, "events.dlq": 1])
        #expect(TopicSetup.missing(in: onlyOutput, for: Self.kafka).map(\.name) == ["recommendations"])
    }

    @Test func oneTopicForOutputAndDeadLettersIsCreatedOnce() {
        var kafka = Self.kafka
        kafka.deadLetterTopic = kafka.outputTopic
        let topics = TopicSetup.missing(in: KafkaClusterMetadata(brokerCount: 1, partitionCounts: [:]), for: kafka)
        #expect(topics.map(\.name) == ["recommendations"])
    }

    @Test func theCommandForCreatingByHandCarriesTheConfig() {
        let topic = TopicSetup.Topic(
            name: "recommendations", partitions: 6, replicationFactor: 3, config: ["cleanup.policy": "compact"])
        #expect(
            topic.command(bootstrapServers: "kafka:9092")
                == "kafka-topics.sh --bootstrap-server kafka:9092 --create --topic recommendations --partitions 6"
                + " --replication-factor 3 --config cleanup.policy=compact")
    }

    /// Through the embedded broker in this process, which `KafkaAdmin` reaches through the mock's API (the mock
    /// has no CreateTopics request and no topic configs: the config is covered by the tests above).
    @Test func missingTopicsAreCreatedOnTheClusterAndASecondStartChangesNothing() async throws {
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let broker = try EmbeddedKafka(logger: logger)
        defer { broker.shutdown() }
        let suffix = UUID().uuidString.prefix(8)
        var kafka = ServiceConfiguration.Kafka()
        kafka.brokers = broker.bootstrapServers
        kafka.inputTopic = "events-\(suffix)"
        kafka.outputTopic = "recommendations-\(suffix)"
        kafka.deadLetterTopic = "dlq-\(suffix)"
        try broker.createTopic(kafka.inputTopic, partitions: 3)

        let setup = TopicSetup(kafka: kafka, logger: logger)
        await setup.createMissingTopics()
        let admin = try KafkaAdmin(configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers), logger: logger)
        let topics = try await admin.listTopics()
        #expect(topics[kafka.outputTopic] == 3)
        #expect(topics[kafka.deadLetterTopic] == 1)

        await setup.createMissingTopics()
        #expect(try await admin.listTopics().filter { $0.key.hasSuffix(String(suffix)) } == topics.filter { $0.key.hasSuffix(String(suffix)) })
    }
}
