import CRdKafka
import Dispatch

extension RDKafkaClient {
    func subscribe(topics: [String]) throws {
        let list = RDKafkaTopicPartitionList(topics.map { KafkaTopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) })
        let result = rd_kafka_subscribe(handle, list.pointer)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(librdkafka: result, context: "subscribe to \(topics)")
        }
    }

    /// Statically assigns partitions (no group), starting at the given offsets.
    func assign(_ offsets: [KafkaTopicPartition: Int64]) throws {
        let list = RDKafkaTopicPartitionList(offsets: offsets)
        let result = rd_kafka_assign(handle, list.pointer)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(librdkafka: result, context: "assign") }
    }

    /// Reads up to `maxMessages` records: waits up to `timeoutMilliseconds` for the first, then takes only what
    /// is already fetched. Serves callbacks (rebalance, errors, statistics). Blocks; call on the poll queue.
    ///
    /// The records borrow librdkafka's messages (one ``RDKafkaMessageBatch`` per call) instead of copying
    /// key, value and headers: kcat writes payloads straight from those buffers too.
    ///
    /// - Parameters:
    ///   - shouldContinue: checked after the first message; returning false ends the batch early
    ///     (a revocation was recorded).
    ///   - element: wraps each record, so the caller's array is built once. `consuming`, so the record moves
    ///     into the element: passed borrowed, it was copied (a retain and release of its batch per record).
    func consumeBatch<Element>(
        queue: RDKafkaQueue, maxMessages: Int, timeoutMilliseconds: Int32, shouldContinue: () -> Bool,
        element: (consuming KafkaRecord) -> Element
    ) -> [Element] {
        guard let first = rd_kafka_consumer_poll(handle, timeoutMilliseconds) else { return [] }
        let capacity = maxMessages > 1 && shouldContinue() ? maxMessages : 1
        return withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<rd_kafka_message_t>?.self, capacity: capacity) {
            messages in
            messages[0] = first
            let more = capacity > 1 ? rd_kafka_consume_batch_queue(queue.pointer, 0, messages.baseAddress! + 1, capacity - 1) : 0
            // Errors are logged and destroyed here; the records' messages stay in place, in order.
            var recordCount = 0
            for index in 0..<(1 + max(0, more)) {
                guard let message = messages[index] else { continue }
                if isRecord(message) {
                    messages[recordCount] = message
                    recordCount += 1
                } else {
                    rd_kafka_message_destroy(message)
                }
            }
            guard recordCount > 0 else { return [] }
            let batch = RDKafkaMessageBatch(messages[0..<recordCount].lazy.map { $0! }, client: self)
            var topicNames = TopicNameCache()
            var records: [Element] = []
            records.reserveCapacity(recordCount)
            for index in 0..<recordCount {
                let borrowed = batch.message(at: index)
                let m = borrowed.message.pointee
                records.append(
                    element(
                        KafkaRecord(
                            topic: topicNames.name(of: m.rkt), partition: m.partition, offset: m.offset,
                            timestampMilliseconds: Self.timestamp(of: borrowed.message), borrowing: borrowed)))
            }
            return records
        }
    }

    /// Whether `message` is a record; a consumer error is logged unless it only marks a partition's end.
    private func isRecord(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> Bool {
        guard message.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR else { return true }
        // Consumer errors (unknown topic, broker gone, partition EOF) are informational: librdkafka recovers.
        if message.pointee.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
            context.logger.warning(
                "consumer error",
                metadata: [
                    "kafka.topic": "\(message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "")",
                    "kafka.partition": "\(message.pointee.partition)",
                    "error": "\(KafkaError(librdkafka: message.pointee.err))",
                ])
        }
        return false
    }

    private static func timestamp(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> Int64? {
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        return timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp
    }

    /// The message's headers, parsed by librdkafka (which caches them in the message: not thread-safe).
    static func headers(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var headerList: OpaquePointer?
        guard rd_kafka_message_headers(message, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList else {
            return []
        }
        var headers: [KafkaHeader] = []
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        var index = 0
        while rd_kafka_header_get_all(headerList, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            headers.append(
                KafkaHeader(
                    key: name.map { String(cString: $0) } ?? "",
                    value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
            index += 1
        }
        return headers
    }

    /// A record that owns copies of the message's key, value and headers, for a message destroyed right after.
    static func copiedRecord(_ message: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) -> KafkaRecord {
        let m = message.pointee
        return KafkaRecord(
            topic: topic, partition: m.partition, offset: m.offset,
            key: m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) },
            value: m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) },
            headers: headers(of: message),
            timestampMilliseconds: timestamp(of: message)
        )
    }

    /// Synchronous commit of explicit offsets (the next offset to read per partition). Blocks.
    func commit(_ offsets: [KafkaTopicPartition: Int64]) throws {
        let list = RDKafkaTopicPartitionList(offsets: offsets)
        let result = rd_kafka_commit(handle, list.pointer, 0)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(librdkafka: result, context: "commit") }
        if let error = list.firstError() { throw error }
    }

    /// Sends a commit and returns at once; its outcome comes back through `replyQueue`, where a poll serves it
    /// (a failure is logged).
    func commitInBackground(_ offsets: [KafkaTopicPartition: Int64], replyQueue: RDKafkaQueue) throws {
        let list = RDKafkaTopicPartitionList(offsets: offsets)
        let result = rd_kafka_commit_queue(handle, list.pointer, replyQueue.pointer, backgroundCommitCallback, nil)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(librdkafka: result, context: "commit") }
    }

    /// The group's committed offsets; partitions without one are left out. Blocks.
    func committed(_ partitions: [KafkaTopicPartition], timeoutMilliseconds: Int32) throws -> [KafkaTopicPartition: Int64] {
        let list = RDKafkaTopicPartitionList(partitions)
        let result = rd_kafka_committed(handle, list.pointer, timeoutMilliseconds)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(librdkafka: result, context: "committed") }
        if let error = list.firstError() { throw error }
        return Dictionary(uniqueKeysWithValues: list.elements.filter { $0.offset >= 0 }.map { ($0.topicPartition, $0.offset) })
    }

    func pause(_ partitions: [KafkaTopicPartition]) throws {
        let list = RDKafkaTopicPartitionList(partitions)
        let result = rd_kafka_pause_partitions(handle, list.pointer)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(librdkafka: result, context: "pause") }
        if let error = list.firstError() { throw error }
    }

    func resume(_ partitions: [KafkaTopicPartition]) throws {
        let list = RDKafkaTopicPartitionList(partitions)
        let result = rd_kafka_resume_partitions(handle, list.pointer)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(librdkafka: result, context: "resume") }
        if let error = list.firstError() { throw error }
    }

    /// Leaves the group (revoking through the rebalance callback) and stops fetching. Blocks.
    func closeConsumer() throws {
        let result = rd_kafka_consumer_close(handle)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(librdkafka: result, context: "close") }
    }

    func consumerQueue() -> RDKafkaQueue { RDKafkaQueue(owning: rd_kafka_queue_get_consumer(handle)) }
}

/// Topic names by topic handle, so a batch converts each name from C once.
private struct TopicNameCache {
    private var names: [OpaquePointer: String] = [:]
    /// Consecutive records mostly share a topic: this skips the hash lookup for them.
    private var last: (topic: OpaquePointer, name: String)?

    mutating func name(of topic: OpaquePointer?) -> String {
        guard let topic else { return "" }
        if let last, last.topic == topic { return last.name }
        let name = names[topic] ?? String(cString: rd_kafka_topic_name(topic))
        names[topic] = name
        last = (topic, name)
        return name
    }
}

extension RDKafkaClient {
    /// Reads the first record of `partition` at or after `offset` on an assign-only consumer, or nil when the
    /// partition has none before `end`. Blocks up to `timeoutMilliseconds`.
    func fetchRecord(
        _ partition: KafkaTopicPartition, atOrAfter offset: Int64, before end: Int64, timeoutMilliseconds: Int32
    ) throws -> KafkaRecord? {
        guard offset < end else { return nil }
        try assign([partition: offset])
        defer { rd_kafka_assign(handle, nil) }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutMilliseconds) * 1_000_000
        while DispatchTime.now().uptimeNanoseconds < deadline {
            guard let message = rd_kafka_consumer_poll(handle, 100) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let m = message.pointee
            guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return nil }
                continue
            }
            // Records from an earlier assignment may still be queued: take only the one asked for.
            guard m.partition == partition.partition, m.offset >= offset,
                String(cString: rd_kafka_topic_name(m.rkt)) == partition.topic
            else { continue }
            return m.offset < end ? Self.copiedRecord(message, topic: partition.topic) : nil
        }
        throw KafkaError(code: .timedOut, reason: "reading \(partition) at offset \(offset): no record in time", isRetriable: true)
    }
}

/// The outcome of a ``RDKafkaClient/commitInBackground(_:replyQueue:)``: only a failure is worth a line (the
/// caller's next commit covers it).
private let backgroundCommitCallback: @convention(c) (
    OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?
) -> Void = { handle, code, offsets, _ in
    guard let context = RDKafkaClientContext.from(handle) else { return }
    let failure: KafkaError? =
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            KafkaError(librdkafka: code, context: "commit")
        } else {
            offsets.flatMap { RDKafkaTopicPartitionList.firstError(of: UnsafePointer($0)) }
        }
    if let failure { context.logger.warning("background commit failed", metadata: ["error": "\(failure)"]) }
}
