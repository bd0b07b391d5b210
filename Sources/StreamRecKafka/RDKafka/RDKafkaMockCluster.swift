import CRdKafka
import Logging

/// librdkafka's in-process mock cluster (`rdkafka_mock.h`), owned together with the client handle it needs.
///
/// The mock runs on its own thread and its API posts operations to it, so calls are safe from any thread;
/// hence `@unchecked Sendable`.
final class RDKafkaMockCluster: @unchecked Sendable {
    /// The cluster lives inside a client; nobody produces through it. Declared first so it is released last.
    private let owner: RDKafkaClient
    private let pointer: OpaquePointer

    init(brokers: Int, logger: Logger) throws {
        // Level 3 hides the owner's "no bootstrap.servers" warning; it never connects anywhere.
        owner = try RDKafkaClient.makeAuxiliary(properties: ["log_level": "3"], logger: logger)
        guard let cluster = rd_kafka_mock_cluster_new(owner.handle, Int32(clamping: brokers)) else {
            throw KafkaError(code: .invalidArgument, reason: "could not start a mock cluster with \(brokers) brokers")
        }
        pointer = cluster
    }

    deinit { rd_kafka_mock_cluster_destroy(pointer) }

    /// `host:port` of every mock broker, broker 1 first.
    var bootstrapServers: String { String(cString: rd_kafka_mock_cluster_bootstraps(pointer)) }

    func createTopic(_ name: String, partitions: Int, replicationFactor: Int) throws {
        let result = rd_kafka_mock_topic_create(
            pointer, name, Int32(clamping: partitions), Int32(clamping: replicationFactor))
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(librdkafka: result, context: "mock create topic '\(name)'")
        }
    }

    func setBrokerDown(_ brokerID: Int32) throws {
        try check(rd_kafka_mock_broker_set_down(pointer, brokerID), "broker \(brokerID) down")
    }

    func setBrokerUp(_ brokerID: Int32) throws {
        try check(rd_kafka_mock_broker_set_up(pointer, brokerID), "broker \(brokerID) up")
    }

    func setRoundTripTime(_ brokerID: Int32, milliseconds: Int) throws {
        try check(rd_kafka_mock_broker_set_rtt(pointer, brokerID, Int32(clamping: milliseconds)), "broker \(brokerID) rtt")
    }

    private func check(_ result: rd_kafka_resp_err_t, _ action: String) throws {
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(librdkafka: result, context: action) }
    }
}
