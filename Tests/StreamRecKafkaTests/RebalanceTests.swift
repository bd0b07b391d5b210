import Synchronization
import Testing

@testable import StreamRecKafka

@Suite("Consumer group rebalances on the embedded broker")
struct RebalanceTests {
    /// What one group member saw, updated by its poll loop.
    final class Member: Sendable {
        let consumer: KafkaConsumer
        let events = Mutex<[KafkaConsumerEvent]>([])

        init(_ consumer: KafkaConsumer) { self.consumer = consumer }

        /// Polls until `done` holds for this member's assignment.
        func poll(until done: @Sendable ([KafkaTopicPartition]) -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while !done(consumer.assignment) {
                guard ContinuousClock.now < deadline else {
                    throw TestTimeout(description: "assignment \(consumer.assignment) never met the condition")
                }
                for event in try await consumer.poll(maxEvents: 100, timeout: .milliseconds(100)) {
                    switch event {
                    case .record:
                        break
                    case .partitionsRevoked(let partitions):
                        // Told before losing them: they are still assigned while the caller handles this.
                        // (Kafka accepts a commit here; librdkafka's mock answers REBALANCE_IN_PROGRESS.)
                        #expect(Set(partitions).isSubset(of: Set(consumer.assignment)))
                        events.withLock { $0.append(event) }
                    case .partitionsAssigned:
                        events.withLock { $0.append(event) }
                    }
                }
            }
        }

        var assignedSets: [Set<KafkaTopicPartition>] {
            events.withLock { $0.compactMap { if case .partitionsAssigned(let p) = $0 { Set(p) } else { nil } } }
        }
        var revokedSets: [Set<KafkaTopicPartition>] {
            events.withLock { $0.compactMap { if case .partitionsRevoked(let p) = $0 { Set(p) } else { nil } } }
        }
    }

    @Test("two consumers split the partitions; when one leaves the other gets them all")
    func twoConsumersSplitThenTakeOver() async throws {
        let kafka = try EmbeddedKafka(logger: testLogger())
        let topic = uniqueName("rebalance")
        let group = uniqueName("group")
        try kafka.createTopic(topic, partitions: 4)
        let all = Set((0..<4).map { KafkaTopicPartition(topic: topic, partition: $0) })
        let producer = try testProducer(kafka)
        for index in 0..<100 { try await producer.enqueue(topic: topic, key: "k\(index)".bytes, value: [1]) }
        try await producer.flush(timeout: .seconds(10))

        let first = Member(try KafkaConsumer(configuration: testConfiguration(kafka), groupID: group, logger: testLogger()))
        try first.consumer.subscribe(topics: [topic])
        try await first.poll { Set($0) == all }
        #expect(first.assignedSets == [all])

        let second = Member(try KafkaConsumer(configuration: testConfiguration(kafka), groupID: group, logger: testLogger()))
        try second.consumer.subscribe(topics: [topic])
        // Both poll until the group has settled on a split: a member that stopped polling early would leave
        // a revocation unanswered and stall the group.
        let isSplit: @Sendable ([KafkaTopicPartition]) -> Bool = { _ in
            first.consumer.assignment.count == 2 && second.consumer.assignment.count == 2
                && Set(first.consumer.assignment).isDisjoint(with: second.consumer.assignment)
        }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await first.poll(until: isSplit) }
            tasks.addTask { try await second.poll(until: isSplit) }
            try await tasks.waitForAll()
        }
        #expect(Set(first.consumer.assignment).isDisjoint(with: second.consumer.assignment))
        #expect(Set(first.consumer.assignment).union(second.consumer.assignment) == all)
        // The first member was told it would lose all its partitions (eager protocol) before losing them.
        #expect(first.revokedSets.first == all)

        try await second.consumer.close()
        try await first.poll { Set($0) == all }
        #expect(first.assignedSets.last == all)
        #expect(first.revokedSets.count >= 2)
        try await first.consumer.close()
        await producer.close()
    }
}
