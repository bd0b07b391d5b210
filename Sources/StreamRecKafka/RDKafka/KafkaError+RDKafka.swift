import CRdKafka

extension KafkaError {
    /// An error from a bare `rd_kafka_resp_err_t`, with librdkafka's text for it.
    init(librdkafka code: rd_kafka_resp_err_t, context: String? = nil, file: String = #fileID, line: Int = #line) {
        let text = String(cString: rd_kafka_err2str(code))
        self.init(
            code: .librdkafka(code.rawValue),
            reason: context.map { "\($0): \(text)" } ?? text,
            isRetriable: Self.retriableCodes.contains(code.rawValue),
            isFatal: code == RD_KAFKA_RESP_ERR__FATAL,
            file: file, line: line
        )
    }

    /// Takes ownership of an `rd_kafka_error_t` and destroys it.
    init(consuming error: OpaquePointer, context: String? = nil, file: String = #fileID, line: Int = #line) {
        defer { rd_kafka_error_destroy(error) }
        let text = String(cString: rd_kafka_error_string(error))
        self.init(
            code: .librdkafka(rd_kafka_error_code(error).rawValue),
            reason: context.map { "\($0): \(text)" } ?? text,
            isRetriable: rd_kafka_error_is_retriable(error) != 0,
            isFatal: rd_kafka_error_is_fatal(error) != 0,
            file: file, line: line
        )
    }

    /// Client-side conditions that clear up by themselves (timeouts, transport, full queue, leader moves).
    private static let retriableCodes: Set<Int32> = [
        RD_KAFKA_RESP_ERR__TRANSPORT.rawValue, RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue,
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT.rawValue, RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue,
        RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION.rawValue, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE.rawValue,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS.rawValue, RD_KAFKA_RESP_ERR_NOT_COORDINATOR.rawValue,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS.rawValue, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS.rawValue,
    ]
}
