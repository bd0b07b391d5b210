import struct Foundation.Data
import class Foundation.JSONDecoder

/// librdkafka's statistics (enabled by ``KafkaConfiguration/statisticsInterval``), reduced to the figures
/// streamrec watches: message and byte totals, queue depth and consumer lag.
public struct KafkaStatistics: Sendable, Equatable {
    /// librdkafka's handle name, e.g. `rdkafka#consumer-2`.
    public var clientName: String
    /// librdkafka's monotonic clock when the statistics were taken, in microseconds.
    public var timestampMicroseconds: Int64
    /// Messages and bytes sent to brokers since the client started (`txmsgs`, `txmsg_bytes`).
    public var transmittedMessages: Int64
    public var transmittedBytes: Int64
    /// Messages and bytes received from brokers since the client started (`rxmsgs`, `rxmsg_bytes`).
    public var receivedMessages: Int64
    public var receivedBytes: Int64
    /// Messages waiting in the producer queue (`msg_cnt`).
    public var queuedMessages: Int64
    /// Per assigned partition: high watermark minus the group's committed offset (librdkafka's
    /// `consumer_lag`). A partition is absent until the group has committed an offset for it.
    public var consumerLag: [KafkaTopicPartition: Int64]
    /// Cluster brokers (not bootstrap or coordinator aliases) the client holds an open connection to: 0 while
    /// the cluster is unreachable.
    public var brokersUp: Int

    /// Sum of ``consumerLag``.
    public var totalConsumerLag: Int64 { consumerLag.values.reduce(0, +) }

    /// Rates between two statistics of the same client.
    public struct Throughput: Sendable, Equatable {
        public var transmittedMessagesPerSecond: Double
        public var transmittedBytesPerSecond: Double
        public var receivedMessagesPerSecond: Double
        public var receivedBytesPerSecond: Double
    }

    /// Message and byte rates from `earlier` to `self`; zero when no time passed.
    public func throughput(since earlier: KafkaStatistics) -> Throughput {
        let seconds = Double(timestampMicroseconds - earlier.timestampMicroseconds) / 1_000_000
        func rate(_ now: Int64, _ then: Int64) -> Double { seconds > 0 ? Double(now - then) / seconds : 0 }
        return Throughput(
            transmittedMessagesPerSecond: rate(transmittedMessages, earlier.transmittedMessages),
            transmittedBytesPerSecond: rate(transmittedBytes, earlier.transmittedBytes),
            receivedMessagesPerSecond: rate(receivedMessages, earlier.receivedMessages),
            receivedBytesPerSecond: rate(receivedBytes, earlier.receivedBytes)
        )
    }

    /// Parses librdkafka's statistics JSON (see its STATISTICS.md).
    public init(json: [UInt8]) throws {
        let raw = try JSONDecoder().decode(Raw.self, from: Data(json))
        clientName = raw.name
        timestampMicroseconds = raw.ts
        transmittedMessages = raw.txmsgs
        transmittedBytes = raw.txmsg_bytes
        receivedMessages = raw.rxmsgs
        receivedBytes = raw.rxmsg_bytes
        queuedMessages = raw.msg_cnt
        var lag: [KafkaTopicPartition: Int64] = [:]
        for (topic, topicStatistics) in raw.topics ?? [:] {
            for (partitionKey, partition) in topicStatistics.partitions ?? [:] {
                // -1 is librdkafka's "unassigned" internal partition; lag -1 means unknown.
                guard let id = Int32(partitionKey), id >= 0, let consumerLag = partition.consumer_lag,
                    consumerLag >= 0, partition.fetch_state.map({ $0 != "none" }) ?? false
                else { continue }
                lag[KafkaTopicPartition(topic: topic, partition: id)] = consumerLag
            }
        }
        consumerLag = lag
        brokersUp = (raw.brokers ?? [:]).values.filter { $0.nodeid >= 0 && $0.state == "UP" }.count
    }

    // Field names are librdkafka's.
    private struct Raw: Decodable {
        var name: String
        var ts: Int64
        var txmsgs: Int64
        var txmsg_bytes: Int64
        var rxmsgs: Int64
        var rxmsg_bytes: Int64
        var msg_cnt: Int64
        var topics: [String: Topic]?
        var brokers: [String: Broker]?

        struct Broker: Decodable {
            var nodeid: Int32
            var state: String
        }

        struct Topic: Decodable {
            var partitions: [String: Partition]?
        }
        struct Partition: Decodable {
            var consumer_lag: Int64?
            var fetch_state: String?
        }
    }
}
