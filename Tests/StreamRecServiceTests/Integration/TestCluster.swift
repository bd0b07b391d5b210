import Foundation
import Logging
import StreamRecKafka
import StreamRecService

/// An embedded Kafka in the test process with the service's three topics, a producer, and helpers to read
/// what the service wrote. Topic and group names are unique per test.
final class TestCluster: @unchecked Sendable {
    let broker: EmbeddedKafka
    let producer: KafkaProducer
    let inputTopic = "events-\(UUID().uuidString.prefix(8))"
    let outputTopic = "recommendations-\(UUID().uuidString.prefix(8))"
    let deadLetterTopic = "dlq-\(UUID().uuidString.prefix(8))"
    let group = "streamrec-test-\(UUID().uuidString.prefix(8))"
    let stateDirectory = NSTemporaryDirectory() + "streamrec-state-\(UUID().uuidString)"
    let inputPartitions: Int
    let outputPartitions = 3
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init(inputPartitions: Int) throws {
        self.inputPartitions = inputPartitions
        broker = try EmbeddedKafka(logger: Self.logger)
        try broker.createTopic(inputTopic, partitions: inputPartitions)
        try broker.createTopic(outputTopic, partitions: outputPartitions)
        try broker.createTopic(deadLetterTopic, partitions: 1)
        producer = try KafkaProducer(
            configuration: KafkaConfiguration(
                bootstrapServers: broker.bootstrapServers, properties: ["message.max.bytes": "3000000"]),
            logger: Self.logger)
    }

    /// State directories handed out for other members of the group, removed with the cluster's own.
    private var otherStateDirectories: [String] = []

    deinit {
        for directory in [stateDirectory] + otherStateDirectories {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: directory + ".yaml")
        }
    }

    /// A new state directory for another member of the group (each member keeps its own state).
    func makeStateDirectory() -> String {
        let directory = NSTemporaryDirectory() + "streamrec-state-\(UUID().uuidString)"
        otherStateDirectories.append(directory)
        return directory
    }

    func close() async {
        await producer.close()
        broker.shutdown()
    }

    /// `serve` against this cluster; `environment` adds STREAMREC_* settings.
    /// `kafkaProperties` adds librdkafka properties for its clients; `stateDirectory` is the cluster's unless given
    /// (a second member of the group needs its own: ``makeStateDirectory()``).
    func startService(
        environment: [String: String] = [:], kafkaProperties: [String: String] = [:], stateDirectory: String? = nil
    ) throws -> ServiceProcess {
        let stateDirectory = stateDirectory ?? self.stateDirectory
        // A SIGKILLed member holds its partitions until its session times out: keep that short.
        let properties = ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500"].merging(kafkaProperties) { $1 }
        let configPath = stateDirectory + ".yaml"
        let yaml = "kafka:\n  properties:\n" + properties.sorted { $0.key < $1.key }.map { "    \($0.key): \"\($0.value)\"\n" }.joined()
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        return try ServiceProcess(
            [
                "serve", "--config", configPath, "--brokers", broker.bootstrapServers, "--input-topic", inputTopic,
                "--output-topic", outputTopic, "--dlq-topic", deadLetterTopic, "--group", group,
                "--state-dir", stateDirectory, "--http-port", "0",
            ],
            environment: ["STREAMREC_CHECKPOINT_INTERVAL": "500ms", "STREAMREC_LOG_LEVEL": "info"].merging(environment) { $1 })
    }

    func partitionCount(_ topic: String) -> Int {
        topic == inputTopic ? inputPartitions : topic == outputTopic ? outputPartitions : 1
    }

    /// Sends one event keyed by its user; returns where it landed.
    @discardableResult
    func send(_ value: [UInt8]?, key: String?) async throws -> (partition: Int32, offset: Int64) {
        try await producer.send(topic: inputTopic, key: key.map { Array($0.utf8) }, value: value)
    }

    /// The checkpoint the service last made durable.
    func checkpoint() async throws -> Checkpoint? {
        try await CheckpointStore(directory: stateDirectory).load()
    }

    /// Reads `topic` from the beginning with a private group, accumulating records until `isComplete`
    /// says so and every partition is read to its end, or `timeout` passes (then throws).
    func read(
        _ topic: String, timeout: Duration, until isComplete: ([KafkaRecord]) -> Bool
    ) async throws -> [KafkaRecord] {
        let reader = try TopicReader(cluster: self, topic: topic)
        do {
            let records = try await reader.read(timeout: timeout, until: isComplete)
            try await reader.consumer.close()
            return records
        } catch {
            try? await reader.consumer.close()
            throw error
        }
    }

    /// The latest recommendation message per user among `records`.
    static func latestByUser(_ records: [KafkaRecord]) -> [String: RecommendationMessage] {
        var latest: [String: RecommendationMessage] = [:]
        for record in records {
            guard let value = record.value, let message = try? RecommendationMessage(decoding: value) else { continue }
            latest[message.userID] = message
        }
        return latest
    }

    /// Reads the output topic until each user's latest recommendation comes from that user's entry in
    /// `lastSources` (or the timeout), and returns the latest message per user.
    func latestRecommendations(
        from lastSources: [String: RecommendationMessage.Source], timeout: Duration
    ) async throws -> [String: RecommendationMessage] {
        let outputs = try await read(outputTopic, timeout: timeout) { records in
            let latest = Self.latestByUser(records)
            return lastSources.allSatisfy { latest[$0.key]?.source == $0.value }
        }
        return Self.latestByUser(outputs)
    }

    /// Offsets the service's group has committed.
    func committedOffsets(partitions: Int) async throws -> [KafkaTopicPartition: Int64] {
        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers), groupID: group,
            logger: Self.logger)
        let result = try await consumer.committed((0..<partitions).map { KafkaTopicPartition(topic: inputTopic, partition: Int32($0)) })
        try await consumer.close()
        return result
    }
}

/// A minimal event in the input schema.
func eventJSON(
    id: String, type: String, user: String, item: String? = nil, query: String? = nil, timestamp: Int64
) -> [UInt8] {
    var fields = [#""event_id":"\#(id)""#, #""type":"\#(type)""#, #""user_id":"\#(user)""#, #""timestamp":\#(timestamp)"#]
    if let item { fields.append(#""item_id":"\#(item)""#) }
    if let query { fields.append(#""query":"\#(query)""#) }
    return Array("{\(fields.joined(separator: ","))}".utf8)
}

/// A reader that stays subscribed, so it sees records the mock broker later drops to keep its size limit.
final class TopicReader: @unchecked Sendable {
    let consumer: KafkaConsumer
    let topic: String
    let partitions: Int
    private(set) var records: [KafkaRecord] = []

    init(cluster: TestCluster, topic: String) throws {
        self.topic = topic
        partitions = cluster.partitionCount(topic)
        consumer = try KafkaConsumer(
            configuration: KafkaConfiguration(bootstrapServers: cluster.broker.bootstrapServers),
            groupID: "reader-\(UUID().uuidString)", logger: TestCluster.logger)
        try consumer.subscribe(topics: [topic])
    }

    /// Everything read so far, once `isComplete` holds for it and every partition is read up to the end it had
    /// then: a partial read would show some users' older messages as their latest.
    func read(timeout: Duration, until isComplete: ([KafkaRecord]) -> Bool) async throws -> [KafkaRecord] {
        let deadline = ContinuousClock.now + timeout
        var ends: [Int32: Int64]?
        while true {
            if ends == nil, isComplete(records) { ends = try await endOffsets() }
            if let ends, ends.allSatisfy({ nextOffsets[$0.key, default: 0] >= $0.value }) { return records }
            guard ContinuousClock.now < deadline else {
                throw HarnessError("timed out reading \(topic): \(records.count) records so far")
            }
            for case .record(let record) in try await consumer.poll(maxEvents: 5000, timeout: .milliseconds(200)) {
                records.append(record)
                nextOffsets[record.partition] = record.offset + 1
            }
        }
    }

    private var nextOffsets: [Int32: Int64] = [:]

    private func endOffsets() async throws -> [Int32: Int64] {
        var ends: [Int32: Int64] = [:]
        for partition in 0..<Int32(partitions) {
            ends[partition] = try await consumer.watermarks(KafkaTopicPartition(topic: topic, partition: partition)).high
        }
        return ends
    }
}
