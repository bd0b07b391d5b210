import Foundation
import Logging
import StreamRecKafka

/// Names no other test (or earlier run) uses, so tests never see each other's data.
func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// Warnings and above: librdkafka's expected complaints in fault tests stay visible but short.
func testLogger() -> Logger {
    var logger = Logger(label: "streamrec.kafka.test")
    logger.logLevel = ProcessInfo.processInfo.environment["KAFKA_TEST_DEBUG"] != nil ? .debug : .error
    return logger
}

/// Client settings that make the mock cluster's reconnects and group joins quick. The mock waits
/// `session.timeout.ms` − 1 s for members to join a non-empty group, and 3 s for the first member of an empty
/// one — a session shorter than that expires during the first join and the group never forms.
func testConfiguration(_ kafka: EmbeddedKafka, _ extra: [String: String] = [:]) -> KafkaConfiguration {
    KafkaConfiguration(
        bootstrapServers: kafka.bootstrapServers,
        properties: [
            "reconnect.backoff.ms": "50", "reconnect.backoff.max.ms": "500",
            "heartbeat.interval.ms": "300", "session.timeout.ms": "4000",
            "topic.metadata.refresh.interval.ms": "1000",
        ].merging(debugProperties) { _, new in new }.merging(extra) { _, new in new }
    )
}

/// `KAFKA_TEST_DEBUG=cgrp,fetch swift test …` turns on librdkafka debug contexts and debug logging.
private let debugProperties = ProcessInfo.processInfo.environment["KAFKA_TEST_DEBUG"].map { ["debug": $0] } ?? [:]

/// An embedded broker with one new topic: where most tests start.
func brokerWithTopic(_ prefix: String, partitions: Int = 1, brokers: Int = 1) throws -> (kafka: EmbeddedKafka, topic: String) {
    let kafka = try EmbeddedKafka(brokers: brokers, logger: testLogger())
    let topic = uniqueName(prefix)
    try kafka.createTopic(topic, partitions: partitions)
    return (kafka, topic)
}

/// A producer with the test settings.
func testProducer(_ kafka: EmbeddedKafka, inFlightLimit: Int = 100_000) throws -> KafkaProducer {
    try KafkaProducer(configuration: testConfiguration(kafka), inFlightLimit: inFlightLimit, logger: testLogger())
}

/// A consumer with the test settings, alone in a new group.
func testConsumer(_ kafka: EmbeddedKafka) throws -> KafkaConsumer {
    try KafkaConsumer(configuration: testConfiguration(kafka), groupID: uniqueName("g"), logger: testLogger())
}

struct TestTimeout: Error, CustomStringConvertible {
    var description: String
}

/// Polls until `count` records arrived (or fails after `limit`); rebalance events go to `onEvent`.
func consumeRecords(
    _ consumer: KafkaConsumer, count: Int, limit: Duration = .seconds(60),
    onEvent: (KafkaConsumerEvent) async throws -> Void = { _ in }
) async throws -> [KafkaRecord] {
    var records: [KafkaRecord] = []
    let deadline = ContinuousClock.now + limit
    while records.count < count {
        guard ContinuousClock.now < deadline else {
            throw TestTimeout(description: "got \(records.count) of \(count) records")
        }
        for event in try await consumer.poll(maxEvents: 1000, timeout: .milliseconds(200)) {
            if case .record(let record) = event { records.append(record) } else { try await onEvent(event) }
        }
    }
    return records
}

/// Polls until `condition` holds after an event, or fails after `limit`.
func pollUntil(
    _ consumer: KafkaConsumer, limit: Duration = .seconds(60), _ condition: (KafkaConsumerEvent?) -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while true {
        guard ContinuousClock.now < deadline else { throw TestTimeout(description: "condition not met in \(limit)") }
        let events = try await consumer.poll(maxEvents: 1000, timeout: .milliseconds(200))
        if events.isEmpty, condition(nil) { return }
        for event in events where condition(event) { return }
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// Runs a blocking call (e.g. ``KafkaProducer/waitForDelivery(of:timeout:)``) on a thread of its own.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
