import StreamRecEngine
import StreamRecKafka

/// The partition of a run of records in a batch and its next offset (nil: none applied yet).
struct PartitionRun {
    var partition: KafkaTopicPartition?
    var next: Int64?

    init() {}

    init(of record: KafkaRecord, positions: [KafkaTopicPartition: Int64]) {
        let partition = record.topicPartition
        self.partition = partition
        next = positions[partition]
    }

    /// Whether `record` belongs to this run (topic names of one batch share storage: comparing them is cheap).
    func holds(_ record: KafkaRecord) -> Bool {
        partition?.partition == record.partition && partition?.topic == record.topic
    }

    func store(into positions: inout [KafkaTopicPartition: Int64]) {
        if let partition, let next { positions[partition] = next }
    }
}

extension EventType {
    /// The index of this type in `allCases`.
    var ordinal: Int {
        switch self {
        case .search: 0
        case .click: 1
        case .view: 2
        case .cart: 3
        case .purchase: 4
        case .item: 5
        }
    }
}
