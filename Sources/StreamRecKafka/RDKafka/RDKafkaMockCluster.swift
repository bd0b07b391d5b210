import CRdKafka
import Foundation
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
        let sockets = Self.disableNagle(onLocalPorts: Set(brokerPorts.map { UInt16($0) }))
        logger.debug("mock brokers listen with Nagle's algorithm off", metadata: ["kafka.sockets": "\(sockets)"])
    }

    /// Sets TCP_NODELAY on this process's TCP sockets bound to `ports` (the mock brokers' listeners, which
    /// Linux copies to every connection they accept) and returns how many. Kafka's brokers turn Nagle's
    /// algorithm off; the mock does not, and then a response written while the previous one is unacknowledged
    /// waits for the client's delayed ACK (up to ~40 ms).
    private static func disableNagle(onLocalPorts ports: Set<UInt16>) -> Int {
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return 0 }
        var count = 0
        for descriptor in descriptors.compactMap({ Int32($0) }) {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            guard named == 0, address.sin_family == sa_family_t(AF_INET), ports.contains(UInt16(bigEndian: address.sin_port))
            else { continue }
            var on: Int32 = 1
            if setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 {
                count += 1
            }
        }
        return count
    }

    deinit { rd_kafka_mock_cluster_destroy(pointer) }

    /// `host:port` of every mock broker, broker 1 first.
    var bootstrapServers: String { String(cString: rd_kafka_mock_cluster_bootstraps(pointer)) }

    /// The loopback port of every mock broker, broker 1 first.
    var brokerPorts: [Int] {
        bootstrapServers.split(separator: ",").compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
    }

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
