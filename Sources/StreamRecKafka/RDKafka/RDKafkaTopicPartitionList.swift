import CRdKafka

/// Owns an `rd_kafka_topic_partition_list_t`.
final class RDKafkaTopicPartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(capacity: Int = 1) {
        pointer = rd_kafka_topic_partition_list_new(Int32(clamping: max(capacity, 1)))
    }

    convenience init(_ partitions: [KafkaTopicPartition], offset: Int64 = Int64(RD_KAFKA_OFFSET_INVALID)) {
        self.init(capacity: partitions.count)
        for partition in partitions { add(partition, offset: offset) }
    }

    convenience init(offsets: [KafkaTopicPartition: Int64]) {
        self.init(capacity: offsets.count)
        for (partition, offset) in offsets.sorted(by: { $0.key < $1.key }) { add(partition, offset: offset) }
    }

    /// Copies a list librdkafka still owns (e.g. the one passed to the rebalance callback).
    init(copying other: UnsafePointer<rd_kafka_topic_partition_list_t>) {
        pointer = rd_kafka_topic_partition_list_copy(other)
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    func add(_ partition: KafkaTopicPartition, offset: Int64) {
        let element = rd_kafka_topic_partition_list_add(pointer, partition.topic, partition.partition)!
        element.pointee.offset = offset
    }

    struct Element {
        var topicPartition: KafkaTopicPartition
        var offset: Int64
        var error: rd_kafka_resp_err_t
    }

    var elements: [Element] {
        Self.elements(of: UnsafePointer(pointer))
    }

    static func elements(of list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [Element] {
        let count = Int(list.pointee.cnt)
        guard count > 0, let base = list.pointee.elems else { return [] }
        return (0..<count).map { index in
            let element = base[index]
            return Element(
                topicPartition: KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition),
                offset: element.offset,
                error: element.err
            )
        }
    }

    /// The first per-partition error, as a ``KafkaError``.
    func firstError() -> KafkaError? { Self.firstError(of: UnsafePointer(pointer)) }

    static func firstError(of list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> KafkaError? {
        for element in elements(of: list) where element.error != RD_KAFKA_RESP_ERR_NO_ERROR {
            return KafkaError(librdkafka: element.error, context: "\(element.topicPartition)")
        }
        return nil
    }
}
