import Testing

@testable import StreamRecKafka

@Suite("Offsets for times, watermarks and lag")
struct OffsetsForTimesTests {
    @Test("offsetsForTimes as a start offset lands on the first record at or after the timestamp")
    func offsetsForTimesAsStartOffset() async throws {
        let (kafka, topic) = try brokerWithTopic("times")
        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        let producer = try testProducer(kafka)
        // Record i is stamped base + 10·i, so every answer is known.
        let base: Int64 = 1_700_000_000_000
        for index in 0..<300 {
            try await producer.enqueue(
                topic: topic, key: nil, value: String(index).bytes, timestampMilliseconds: base + Int64(index) * 10)
        }
        try await producer.flush(timeout: .seconds(10))

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        _ = try await consumeRecords(consumer, count: 300)
        #expect(try await consumer.watermarks(partition) == (0, 300))

        // Between records, exactly on one, before the first and after the last.
        let cases: [(timestamp: Int64, expected: Int64)] = [
            (base + 1234, 124), (base + 1230, 123), (base - 5, 0), (base + 2990, 299), (base + 5000, 300),
        ]
        for (timestamp, expected) in cases {
            let answer = try await consumer.offsetsForTimes([partition: timestamp])
            #expect(answer == [partition: expected], "timestamp \(timestamp - base)")
        }

        try await consumer.close()

        let rebuilder = try testConsumer(kafka)
        rebuilder.setStartOffsets(try await rebuilder.offsetsForTimes([partition: base + 1234]))
        try rebuilder.subscribe(topics: [topic])
        let records = try await consumeRecords(rebuilder, count: 1)
        #expect(records.first?.offset == 124)
        #expect(records.first?.timestampMilliseconds == base + 1240)
        try await rebuilder.close()
        await producer.close()
    }

    @Test("the timestamp search rejects a wrong broker answer and finds the right offset")
    func timestampSearchCorrectsBrokerAnswer() throws {
        // Offsets 10..<20 with a gap at 15 (a transaction marker), timestamps 100, 110, ...
        let offsets: [Int64] = [10, 11, 12, 13, 14, 16, 17, 18, 19]
        let search = TimestampSearch(
            partition: KafkaTopicPartition(topic: "t", partition: 0), target: 155, low: 10, high: 20
        ) { offset in
            offsets.first { $0 >= offset }.map {
                KafkaRecord(topic: "t", partition: 0, offset: $0, key: nil, value: nil, timestampMilliseconds: 100 + ($0 - 10) * 10)
            }
        }
        #expect(try search.isCorrect(20) == false)  // what librdkafka's mock answers
        #expect(try search.binarySearch() == 16)
        var before14 = search
        before14.target = 135
        #expect(try before14.isCorrect(14) == true)
        #expect(try before14.isCorrect(13) == false)
        #expect(try before14.binarySearch() == 14)
    }

    @Test("lag counts the records past the committed offset")
    func lagFollowsCommits() async throws {
        let (kafka, topic) = try brokerWithTopic("lag")
        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        let producer = try testProducer(kafka)
        for index in 0..<40 { try await producer.enqueue(topic: topic, key: nil, value: [UInt8(index)]) }
        try await producer.flush(timeout: .seconds(10))

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        _ = try await consumeRecords(consumer, count: 40)
        #expect(try await consumer.lag() == [partition: 40])
        try await consumer.commit([partition: 25])
        #expect(try await consumer.lag() == [partition: 15])
        try await consumer.close()
        await #expect(throws: KafkaError.self) { try await consumer.lag() }
        await producer.close()
    }
}
