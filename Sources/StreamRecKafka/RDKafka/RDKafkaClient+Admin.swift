import CRdKafka

extension RDKafkaClient {
    /// `rd_kafka_CreateTopics` for one topic, waiting for the broker's answer. Blocks.
    func createTopic(
        _ name: String, partitions: Int, replicationFactor: Int, config: [String: String], timeoutMilliseconds: Int32
    ) throws {
        var errorText = [CChar](repeating: 0, count: 512)
        guard
            let newTopic = rd_kafka_NewTopic_new(
                name, Int32(clamping: partitions), Int32(clamping: replicationFactor), &errorText, errorText.count)
        else {
            throw KafkaError(code: .invalidArgument, reason: "topic '\(name)': \(String(errorBuffer: errorText))")
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        for (key, value) in config.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_NewTopic_set_config(newTopic, key, value)
            guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(librdkafka: result, context: "topic '\(name)' config '\(key)'")
            }
        }
        let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMilliseconds, &errorText, errorText.count)
        let queue = RDKafkaQueue(owning: rd_kafka_queue_new(handle))
        var topics: [OpaquePointer?] = [newTopic]
        rd_kafka_CreateTopics(handle, &topics, 1, options, queue.pointer)

        // The request timeout bounds the wait; the extra second covers the round trip.
        guard let event = rd_kafka_queue_poll(queue.pointer, timeoutMilliseconds + 1000) else {
            throw KafkaError(code: .timedOut, reason: "create topic '\(name)': no answer", isRetriable: true)
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(librdkafka: eventError, context: "create topic '\(name)'")
        }
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event),
            let topicResults = rd_kafka_CreateTopics_result_topics(result, &count)
        else { return }
        for index in 0..<count {
            let code = rd_kafka_topic_result_error(topicResults[index])
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                let message = rd_kafka_topic_result_error_string(topicResults[index]).map { String(cString: $0) }
                let base = KafkaError(librdkafka: code)
                throw KafkaError(
                    code: base.code, reason: "create topic '\(name)': \(message ?? base.reason)",
                    isRetriable: base.isRetriable)
            }
        }
    }
}
