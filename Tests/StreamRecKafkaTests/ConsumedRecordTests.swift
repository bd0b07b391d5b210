import Testing

@testable import StreamRecKafka

/// Consumed records read key, value and headers from librdkafka's messages in place, and those messages live
/// as long as the records do.
@Suite("Consumed records borrow librdkafka's messages")
struct ConsumedRecordTests {
    @Test("records outlive their consumer, read in place or copied alike; a record without headers has none")
    func recordsOutliveTheirConsumer() async throws {
        let (kafka, topic) = try brokerWithTopic("outlive")
        let producer = try testProducer(kafka)
        try await producer.send(topic: topic, key: "k0".bytes, value: "v0".bytes)
        try await producer.send(
            topic: topic, key: "k1".bytes, value: "v1".bytes,
            headers: [KafkaHeader(key: "h", value: "x".bytes), KafkaHeader(key: "none", value: nil)])
        try await producer.send(topic: topic, key: nil, value: nil)
        await producer.close()

        var records: [KafkaRecord]
        do {
            let consumer = try testConsumer(kafka)
            try consumer.subscribe(topics: [topic])
            records = try await consumeRecords(consumer, count: 3)
            try await consumer.close()
        }
        // The consumer and its client are gone (only the records keep its messages).

        #expect(records.map(\.offset) == [0, 1, 2])
        #expect(records.map(\.key) == ["k0".bytes, "k1".bytes, nil])
        #expect(records.map(\.value) == ["v0".bytes, "v1".bytes, nil])
        #expect(records[0].headers.isEmpty)
        #expect(records[1].headers == [KafkaHeader(key: "h", value: "x".bytes), KafkaHeader(key: "none", value: nil)])
        #expect(records[2].headers.isEmpty)
        #expect(records.map { $0.withUnsafeValue { $0.map(Array.init) } } == ["v0".bytes, "v1".bytes, nil])
        #expect(records.map { $0.withUnsafeKey { $0.map(Array.init) } } == ["k0".bytes, "k1".bytes, nil])

        // A borrowed record equals (and hashes like) one built from the same fields.
        let copy = KafkaRecord(
            topic: topic, partition: 0, offset: 1, key: "k1".bytes, value: "v1".bytes,
            headers: [KafkaHeader(key: "h", value: "x".bytes), KafkaHeader(key: "none", value: nil)],
            timestampMilliseconds: records[1].timestampMilliseconds)
        #expect(records[1] == copy)
        #expect(Set([records[1], copy]).count == 1)

        // Changing a copy's value keeps its key and headers and leaves the original as it was.
        var changed = records[1]
        changed.value = "other".bytes
        #expect(changed.value == "other".bytes)
        #expect(changed.key == "k1".bytes)
        #expect(changed.headers == records[1].headers)
        #expect(records[1].value == "v1".bytes)
        #expect(changed != records[1])
    }

    @Test("copies of one record read its headers from many tasks at once and all get them")
    func concurrentHeaderReads() async throws {
        let (kafka, topic) = try brokerWithTopic("headers")
        let producer = try testProducer(kafka)
        let headers = (0..<20).map { KafkaHeader(key: "h\($0)", value: String($0).bytes) }
        for sequence in 0..<50 {
            try await producer.enqueue(topic: topic, key: nil, value: String(sequence).bytes, headers: headers)
        }
        try await producer.flush(timeout: .seconds(30))
        await producer.close()

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        let records = try await consumeRecords(consumer, count: 50)
        try await consumer.close()

        // librdkafka parses a message's headers on first access and caches them in the message.
        let readings = await withTaskGroup(of: [KafkaHeader].self) { group in
            for record in records {
                for _ in 0..<4 { group.addTask { record.headers } }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(readings.count == 200)
        #expect(readings.allSatisfy { $0 == headers })
    }
}
