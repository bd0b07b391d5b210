import Foundation
import Testing

@testable import StreamRecKafka

@Suite("Producer and consumer on the embedded broker")
struct ProducerConsumerTests {
    @Test("10k messages keep key, value, headers and per-partition order")
    func roundTripKeepsEverything() async throws {
        let (kafka, topic) = try brokerWithTopic("round-trip", partitions: 4, brokers: 3)
        let producer = try testProducer(kafka, inFlightLimit: 1000)
        let total = 10_000
        for sequence in 0..<total {
            try await producer.enqueue(
                topic: topic, key: "user-\(sequence % 37)".bytes, value: "value-\(sequence)".bytes,
                headers: [
                    KafkaHeader(key: "sequence", value: String(sequence).bytes), KafkaHeader(key: "empty", value: nil),
                ])
        }
        try await producer.flush(timeout: .seconds(30))
        #expect(producer.inFlightCount == 0)

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        let records = try await consumeRecords(consumer, count: total)
        #expect(records.count == total)

        var partitionOfKey: [String: Int32] = [:]
        var lastSequenceOfPartition: [Int32: Int] = [:]
        var lastOffsetOfPartition: [Int32: Int64] = [:]
        var seen = Set<Int>()
        for record in records {
            let sequenceText = try #require(record.headers.first?.value).text
            let sequence = try #require(Int(sequenceText))
            #expect(record.key == "user-\(sequence % 37)".bytes)
            #expect(record.value == "value-\(sequence)".bytes)
            #expect(record.headers == [
                KafkaHeader(key: "sequence", value: String(sequence).bytes), KafkaHeader(key: "empty", value: nil),
            ])
            #expect(record.timestampMilliseconds != nil)
            // A key always lands on one partition, and each partition is read in production order.
            let key = record.key!.text
            #expect(partitionOfKey[key, default: record.partition] == record.partition)
            partitionOfKey[key] = record.partition
            #expect(lastSequenceOfPartition[record.partition, default: -1] < sequence)
            #expect(lastOffsetOfPartition[record.partition, default: -1] < record.offset)
            lastSequenceOfPartition[record.partition] = sequence
            lastOffsetOfPartition[record.partition] = record.offset
            seen.insert(sequence)
        }
        #expect(seen.count == total)
        #expect(Set(partitionOfKey.values).count > 1)
        try await consumer.close()
        await producer.close()
    }

    @Test("a tombstone and an empty key arrive as such")
    func tombstoneAndEmptyKey() async throws {
        let (kafka, topic) = try brokerWithTopic("tombstone")
        let producer = try testProducer(kafka)
        try await producer.send(topic: topic, key: [], value: nil)
        try await producer.send(topic: topic, key: nil, value: [])
        try await producer.send(topic: topic, key: "k".bytes, value: nil, headers: [KafkaHeader(key: "h", value: [])])

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        let records = try await consumeRecords(consumer, count: 3)
        #expect(records.map(\.key) == [[], nil, "k".bytes])
        #expect(records.map(\.value) == [nil, [], nil])
        #expect(records[2].headers == [KafkaHeader(key: "h", value: [])])
        try await consumer.close()
        await producer.close()
    }

    @Test("messages to several topics, interleaved, each land in their own topic in order")
    func interleavedTopics() async throws {
        let kafka = try EmbeddedKafka(logger: testLogger())
        let topics = (0..<3).map { uniqueName("interleaved-\($0)") }
        for topic in topics { try kafka.createTopic(topic, partitions: 1) }
        let producer = try testProducer(kafka)
        let perTopic = 100
        for sequence in 0..<perTopic * topics.count {
            let topic = topics[sequence % topics.count]
            try await producer.enqueue(topic: topic, key: nil, value: "\(topic)/\(sequence)".bytes)
        }
        try await producer.flush(timeout: .seconds(30))
        // A topic first seen by `send` after others were used.
        let late = uniqueName("interleaved-late")
        try kafka.createTopic(late, partitions: 1)
        let (_, offset) = try await producer.send(topic: late, key: nil, value: "late".bytes)
        #expect(offset == 0)
        await producer.close()

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: topics)
        let records = try await consumeRecords(consumer, count: perTopic * topics.count)
        for (index, topic) in topics.enumerated() {
            let values = records.filter { $0.topic == topic }.map { $0.value?.text ?? "" }
            #expect(values == stride(from: index, to: perTopic * topics.count, by: topics.count).map { "\(topic)/\($0)" })
        }
        try await consumer.close()
    }

    @Test("send returns the partition and offset of the delivered message")
    func sendReportsPosition() async throws {
        let (kafka, topic) = try brokerWithTopic("position")
        let producer = try testProducer(kafka)
        var offsets: [Int64] = []
        for index in 0..<5 {
            let (partition, offset) = try await producer.send(topic: topic, key: nil, value: [UInt8(index)])
            #expect(partition == 0)
            offsets.append(offset)
        }
        #expect(offsets == [0, 1, 2, 3, 4])
        await producer.close()
        await #expect(throws: KafkaError.self) { try await producer.send(topic: topic, key: nil, value: []) }
    }

    @Test("an oversized message is a thrown error with librdkafka's reason")
    func oversizedMessageThrows() async throws {
        let kafka = try EmbeddedKafka(logger: testLogger())
        let topic = uniqueName("oversized")
        let producer = try testProducer(kafka)
        let huge = [UInt8](repeating: 7, count: 2_000_000)
        let sendError = await #expect(throws: KafkaError.self) {
            try await producer.send(topic: topic, key: nil, value: huge)
        }
        #expect(sendError?.code == .messageTooLarge)
        #expect(sendError?.reason.lowercased().contains("too large") == true)
        let enqueueError = await #expect(throws: KafkaError.self) {
            try await producer.enqueue(topic: topic, key: nil, value: huge)
        }
        #expect(enqueueError?.code == .messageTooLarge)
        // The producer is still usable and its window was given back.
        #expect(producer.inFlightCount == 0)
        try await producer.send(topic: topic, key: nil, value: "small".bytes)
        await producer.close()
    }

    @Test("enqueue waits while the in-flight window is full and goes on once deliveries free it")
    func enqueueWaitsForTheWindow() async throws {
        let (kafka, topic) = try brokerWithTopic("window")
        let producer = try testProducer(kafka, inFlightLimit: 10)
        try await producer.send(topic: topic, key: nil, value: "0".bytes)

        try kafka.setBrokerDown(1)
        for index in 1...10 { try await producer.enqueue(topic: topic, key: nil, value: String(index).bytes) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await producer.enqueue(topic: topic, key: nil, value: "11".bytes) }
            // Nothing can be delivered while the broker is down: the eleventh message must wait outside the
            // window (it would count as in flight the moment librdkafka had it).
            try await Task.sleep(for: .milliseconds(500))
            #expect(producer.inFlightCount == 10)
            try kafka.setBrokerUp(1)
            try await group.waitForAll()
        }
        try await producer.flush(timeout: .seconds(30))
        #expect(producer.inFlightCount == 0)

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        let values = try await consumeRecords(consumer, count: 12).map { $0.value!.text }
        #expect(values == (0...11).map(String.init))
        try await consumer.close()
        await producer.close()
    }

    @Test("a delivery mark waits for the messages enqueued before it, not for those after")
    func deliveryMarkCoversEarlierMessagesOnly() async throws {
        let (kafka, topic) = try brokerWithTopic("mark", partitions: 2)
        let producer = try testProducer(kafka)
        for index in 0..<20 { try await producer.enqueue(topic: topic, key: nil, value: String(index).bytes) }
        let early = producer.markDelivery()
        #expect(try await offThePool { try producer.waitForDelivery(of: early, timeout: .seconds(10)) })

        try kafka.setBrokerDown(1)
        for index in 20..<30 { try await producer.enqueue(topic: topic, key: nil, value: String(index).bytes) }
        let late = producer.markDelivery()
        // Undelivered messages after a mark do not hold it (a flush would time out here).
        #expect(try await offThePool { try producer.waitForDelivery(of: early, timeout: .zero) })
        #expect(try await offThePool { try producer.waitForDelivery(of: late, timeout: .milliseconds(300)) } == false)
        async let lateDelivered = offThePool { try producer.waitForDelivery(of: late, timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(200))
        try kafka.setBrokerUp(1)
        #expect(try await lateDelivered)
        #expect(producer.inFlightCount == 0)
        await producer.close()
    }

    @Test("a delivery mark reports a message that could not be delivered, and so does every later mark")
    func deliveryMarkReportsFailure() async throws {
        let (kafka, topic) = try brokerWithTopic("mark-failure")
        // A short message timeout makes "lost" fail fast; a short reconnect backoff lets the sends around it
        // reach the broker well within that timeout (the default backoff grows to seconds while it is down).
        let producer = try KafkaProducer(
            configuration: testConfiguration(kafka, ["message.timeout.ms": "1000", "reconnect.backoff.max.ms": "50"]),
            logger: testLogger())
        try await sendRetryingTimeouts(producer, topic: topic, value: "first")
        try kafka.setBrokerDown(1)
        try await producer.enqueue(topic: topic, key: nil, value: "lost".bytes)
        let lost = producer.markDelivery()
        let error = await #expect(throws: KafkaError.self) {
            try await offThePool { try producer.waitForDelivery(of: lost, timeout: .seconds(30)) }
        }
        #expect(error?.code == .messageTimedOut)

        // A checkpoint taken later still holds the event whose output was lost: it must not pass either.
        try kafka.setBrokerUp(1)
        try await sendRetryingTimeouts(producer, topic: topic, value: "after")
        let after = producer.markDelivery()
        await #expect(throws: KafkaError.self) {
            try await offThePool { try producer.waitForDelivery(of: after, timeout: .seconds(30)) }
        }
        await producer.close()
    }

    /// Sends until one attempt is delivered: on a loaded machine a 1 s message timeout can expire before the
    /// client has (re)connected, which is not what these tests are about.
    private func sendRetryingTimeouts(_ producer: KafkaProducer, topic: String, value: String) async throws {
        for attempt in 1...10 {
            do {
                _ = try await producer.send(topic: topic, key: nil, value: value.bytes)
                return
            } catch let error as KafkaError where error.code == .messageTimedOut && attempt < 10 {
                continue
            }
        }
    }

    @Test("once enqueues stop, reports are served without a flush; the window holds throughout")
    func reportsServedAfterEnqueuesStop() async throws {
        let (kafka, topic) = try brokerWithTopic("hand-over")
        let limit = 64
        let producer = try testProducer(kafka, inFlightLimit: limit)
        // Far more than the window: the enqueuing task fills it, waits, and serves reports itself in between.
        let total = 2_000
        for index in 0..<total {
            try await producer.enqueue(topic: topic, key: nil, value: String(index).bytes)
            #expect(producer.inFlightCount <= limit)
        }
        // No flush and no further enqueue: only the poller thread can serve the remaining reports now.
        let deadline = ContinuousClock.now + .seconds(30)
        while producer.inFlightCount > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(producer.inFlightCount == 0)
        let (_, offset) = try await producer.send(topic: topic, key: nil, value: String(total).bytes)
        #expect(offset == Int64(total))

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        let values = try await consumeRecords(consumer, count: total + 1).map { $0.value!.text }
        #expect(values == (0...total).map(String.init))
        try await consumer.close()
        await producer.close()
    }

    @Test("a consumer that commits, closes and restarts resumes right after its last commit")
    func resumesAfterCommit() async throws {
        let kafka = try EmbeddedKafka(logger: testLogger())
        let topic = uniqueName("resume")
        let group = uniqueName("group")
        try kafka.createTopic(topic, partitions: 2)
        let producer = try testProducer(kafka)
        for index in 0..<200 {
            try await producer.enqueue(topic: topic, key: "k\(index % 5)".bytes, value: String(index).bytes)
        }
        try await producer.flush(timeout: .seconds(10))

        // First run: process (and commit) only the first half of what arrives, then stop.
        let first = try KafkaConsumer(configuration: testConfiguration(kafka), groupID: group, logger: testLogger())
        try first.subscribe(topics: [topic])
        let firstBatch = try await consumeRecords(first, count: 200)
        let processed = Array(firstBatch.prefix(100))
        var commitOffsets: [KafkaTopicPartition: Int64] = [:]
        for record in processed { commitOffsets[record.topicPartition] = record.offset + 1 }
        try await first.commit(commitOffsets)
        #expect(try await first.committed(Array(commitOffsets.keys)) == commitOffsets)
        try await first.close()

        // Second run: exactly the unprocessed records, none twice, none missing.
        let second = try KafkaConsumer(configuration: testConfiguration(kafka), groupID: group, logger: testLogger())
        try second.subscribe(topics: [topic])
        let secondBatch = try await consumeRecords(second, count: 100)
        let identity = { (record: KafkaRecord) in "\(record.partition)/\(record.offset)" }
        #expect(Set(secondBatch.map(identity)) == Set(firstBatch.dropFirst(100).map(identity)))
        #expect(secondBatch.count == 100)
        // Nothing more arrives.
        #expect(try await second.poll(maxEvents: 100, timeout: .milliseconds(500)).allSatisfy {
            if case .record = $0 { false } else { true }
        })
        try await second.close()
        await producer.close()
    }

    /// 100 records over two partitions, all read by a new group that committed the end of both; the group's
    /// next member is the test's.
    private func topicReadToTheEndByAGroup(_ prefix: String) async throws
        -> (kafka: EmbeddedKafka, topic: String, group: String, ends: [KafkaTopicPartition: Int64])
    {
        let (kafka, topic) = try brokerWithTopic(prefix, partitions: 2)
        let group = uniqueName("group")
        let producer = try testProducer(kafka)
        for index in 0..<100 { try await producer.enqueue(topic: topic, key: "k\(index)".bytes, value: String(index).bytes) }
        try await producer.flush(timeout: .seconds(10))
        await producer.close()
        let committer = try KafkaConsumer(configuration: testConfiguration(kafka), groupID: group, logger: testLogger())
        try committer.subscribe(topics: [topic])
        let all = try await consumeRecords(committer, count: 100)
        var ends: [KafkaTopicPartition: Int64] = [:]
        for record in all { ends[record.topicPartition] = max(ends[record.topicPartition] ?? 0, record.offset + 1) }
        try #require(ends.count == 2 && ends.values.allSatisfy { $0 >= 2 })
        try await committer.commit(ends)
        try await committer.close()
        return (kafka, topic, group, ends)
    }

    @Test("start offsets given before the assignment win over the group's committed offsets, from the first record")
    func startOffsetsWinOverCommitted() async throws {
        let (kafka, topic, group, ends) = try await topicReadToTheEndByAGroup("start")
        // This member's own state says otherwise: partition p from offset p.
        let consumer = try KafkaConsumer(configuration: testConfiguration(kafka), groupID: group, logger: testLogger())
        let starts = Dictionary(uniqueKeysWithValues: ends.keys.map { ($0, Int64($0.partition)) })
        consumer.setStartOffsets(starts)
        try consumer.subscribe(topics: [topic])
        let records = try await consumeRecords(consumer, count: 100 - 1)
        for (partition, end) in ends {
            #expect(records.filter { $0.topicPartition == partition }.map(\.offset) == Array(starts[partition]!..<end))
        }
        try await consumer.close()
    }

    @Test("partitions without a start offset start at the log's beginning when asked, not at the committed offset")
    func otherPartitionsStartAtBeginning() async throws {
        let (kafka, topic, group, ends) = try await topicReadToTheEndByAGroup("rebuild")
        // A rebuild: partition 0 from offset 1 (given), partition 1 (not given) from its beginning.
        let consumer = try KafkaConsumer(configuration: testConfiguration(kafka), groupID: group, logger: testLogger())
        let first = KafkaTopicPartition(topic: topic, partition: 0)
        let second = KafkaTopicPartition(topic: topic, partition: 1)
        consumer.setStartOffsets([first: 1])
        consumer.startOtherPartitionsAtBeginning()
        try consumer.subscribe(topics: [topic])
        let records = try await consumeRecords(consumer, count: 100 - 1)
        #expect(records.filter { $0.topicPartition == first }.map(\.offset) == Array(1..<ends[first]!))
        #expect(records.filter { $0.topicPartition == second }.map(\.offset) == Array(0..<ends[second]!))
        try await consumer.close()
    }

    @Test("a background commit returns at once, also with the broker away, and lands through the polls")
    func backgroundCommit() async throws {
        let (kafka, topic) = try brokerWithTopic("background", partitions: 1)
        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        let producer = try testProducer(kafka)
        for index in 0..<20 { try await producer.enqueue(topic: topic, key: nil, value: String(index).bytes) }
        try await producer.flush(timeout: .seconds(10))
        await producer.close()
        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        _ = try await consumeRecords(consumer, count: 20)
        /// Polls (which serve the commit's outcome) until the group holds `offset`.
        func pollUntilCommitted(_ offset: Int64) async throws -> Bool {
            for _ in 0..<100 {
                _ = try await consumer.poll(maxEvents: 10, timeout: .milliseconds(100))
                if try await consumer.committed([partition])[partition] == offset { return true }
            }
            return false
        }

        try consumer.commitInBackground([partition: 10])
        #expect(try await pollUntilCommitted(10))

        // With the broker away a waiting commit blocks for seconds; this one returns at once.
        try kafka.setBrokerDown(1)
        let started = ContinuousClock.now
        try consumer.commitInBackground([partition: 15])
        #expect(ContinuousClock.now - started < .seconds(1))
        try kafka.setBrokerUp(1)
        // Whether that one landed or failed, the next covers it.
        try consumer.commitInBackground([partition: 20])
        #expect(try await pollUntilCommitted(20))
        try await consumer.close()
    }

    @Test("with the broker down during produce, messages are retried and all delivered once it is back")
    func brokerDownDuringProduce() async throws {
        let (kafka, topic) = try brokerWithTopic("fault", partitions: 2)
        let producer = try testProducer(kafka)
        for index in 0..<50 { try await producer.enqueue(topic: topic, key: nil, value: String(index).bytes) }
        try await producer.flush(timeout: .seconds(10))

        try kafka.setBrokerDown(1)
        for index in 50..<150 { try await producer.enqueue(topic: topic, key: nil, value: String(index).bytes) }
        let sentWhileDown = try await withThrowingTaskGroup(of: Int64.self) { group in
            group.addTask { try await producer.send(topic: topic, key: nil, value: "150".bytes).offset }
            // Give librdkafka time to try and fail against the dead broker before it returns.
            try await Task.sleep(for: .milliseconds(700))
            #expect(producer.inFlightCount == 101)
            try kafka.setBrokerUp(1)
            return try await group.next()!
        }
        #expect(sentWhileDown >= 0)
        try await producer.flush(timeout: .seconds(30))

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        let records = try await consumeRecords(consumer, count: 151)
        let values = records.map { Int($0.value!.text)! }
        #expect(values.count == 151)
        #expect(Set(values) == Set(0...150))
        try await consumer.close()
        await producer.close()
    }

    @Test("pause stops a partition's records until resume")
    func pauseAndResume() async throws {
        let (kafka, topic) = try brokerWithTopic("pause")
        let producer = try testProducer(kafka)
        try await producer.send(topic: topic, key: nil, value: "before".bytes)

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        _ = try await consumeRecords(consumer, count: 1)
        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        try consumer.pause([partition])
        try await producer.send(topic: topic, key: nil, value: "while paused".bytes)
        let whilePaused = try await consumer.poll(maxEvents: 10, timeout: .milliseconds(700))
        #expect(whilePaused.isEmpty)
        try consumer.resume([partition])
        let afterResume = try await consumeRecords(consumer, count: 1)
        #expect(afterResume.map { $0.value?.text } == ["while paused"])
        try await consumer.close()
        await producer.close()
    }
}
