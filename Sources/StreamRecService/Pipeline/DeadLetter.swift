import StreamRecKafka

/// A dead letter keeps the original key, value and headers byte for byte and adds headers saying why it
/// was rejected and where it came from, so it can be inspected, fixed and replayed. Only a value too large
/// for a Kafka message is cut, and a header then gives its original size.
public struct DeadLetter: Sendable, Equatable {
    public static let reasonHeader = "streamrec.dlq.reason"
    public static let fieldHeader = "streamrec.dlq.field"
    public static let topicHeader = "streamrec.source.topic"
    public static let partitionHeader = "streamrec.source.partition"
    public static let offsetHeader = "streamrec.source.offset"
    public static let originalSizeHeader = "streamrec.dlq.original_bytes"
    /// Below librdkafka's and Kafka's default `message.max.bytes` (1 000 000) with room for the headers.
    static let maximumValueBytes = 900_000
    /// Longest reason kept, so a pathological input cannot produce a pathological header.
    static let maximumReasonBytes = 1024

    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]

    public init(rejecting record: KafkaRecord, reason: String, field: String?) {
        key = record.key
        value = record.value
        var reasonBytes = Array(reason.utf8)
        if reasonBytes.count > Self.maximumReasonBytes {
            reasonBytes = Array(String(decoding: reasonBytes.prefix(Self.maximumReasonBytes), as: UTF8.self).utf8)
        }
        headers = record.headers + [
            KafkaHeader(key: Self.reasonHeader, value: reasonBytes),
            KafkaHeader(key: Self.topicHeader, value: Array(record.topic.utf8)),
            KafkaHeader(key: Self.partitionHeader, value: Array(String(record.partition).utf8)),
            KafkaHeader(key: Self.offsetHeader, value: Array(String(record.offset).utf8)),
        ]
        if let field {
            headers.append(KafkaHeader(key: Self.fieldHeader, value: Array(field.utf8)))
        }
        if let original = record.value, original.count > Self.maximumValueBytes {
            value = Array(original.prefix(Self.maximumValueBytes))
            headers.append(KafkaHeader(key: Self.originalSizeHeader, value: Array(String(original.count).utf8)))
        }
    }

    /// The value of the last header named `key`, as text.
    public static func header(_ key: String, in headers: [KafkaHeader]) -> String? {
        headers.last { $0.key == key }?.value.map { String(decoding: $0, as: UTF8.self) }
    }
}
