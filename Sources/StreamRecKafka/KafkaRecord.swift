/// One Kafka record header. A header may carry no value (`nil`), which is not the same as an empty one.
public struct KafkaHeader: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// A partition of a topic.
public struct KafkaTopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// A record read by ``KafkaConsumer``.
///
/// A consumed record reads its key, value and headers from librdkafka's message in place: `key`, `value` and
/// `headers` copy them out on each access, ``withUnsafeKey(_:)`` and ``withUnsafeValue(_:)`` lend them without a
/// copy. librdkafka's messages of one poll are freed together once the last record from that poll is gone, so a
/// record kept for long keeps its whole batch's buffers: keep a copy (`value`) instead.
public struct KafkaRecord: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// Create or log-append time in milliseconds since the Unix epoch, when the broker has one.
    public var timestampMilliseconds: Int64?
    @usableFromInline var content: Content

    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?,
        headers: [KafkaHeader] = [], timestampMilliseconds: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestampMilliseconds = timestampMilliseconds
        content = .owned(key: key, value: value, headers: headers)
    }

    init(topic: String, partition: Int32, offset: Int64, timestampMilliseconds: Int64?, borrowing message: RDKafkaBorrowedMessage) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestampMilliseconds = timestampMilliseconds
        content = .borrowed(message)
    }

    /// `nil` when the record has no key; an empty array is an empty key.
    public var key: [UInt8]? {
        get { withUnsafeKey { $0.map(Array.init) } }
        set { content = .owned(key: newValue, value: value, headers: headers) }
    }

    /// `nil` for a tombstone (delete marker on compacted topics).
    public var value: [UInt8]? {
        get { withUnsafeValue { $0.map(Array.init) } }
        set { content = .owned(key: key, value: newValue, headers: headers) }
    }

    public var headers: [KafkaHeader] {
        get {
            switch content {
            case .owned(_, _, let headers): headers
            case .borrowed(let message): message.headers
            }
        }
        set { content = .owned(key: key, value: value, headers: newValue) }
    }

    /// Calls `body` with the key's bytes, valid only during the call (`nil` when the record has no key).
    // Inlinable (with the accessors it uses) so that callers get it specialized: unspecialized, every call
    // looked up generic metadata at run time.
    @inlinable
    public func withUnsafeKey<T, Failure: Error>(
        _ body: (UnsafeRawBufferPointer?) throws(Failure) -> T
    ) throws(Failure) -> T {
        switch content {
        case .owned(let key, _, _):
            guard let key else { return try body(nil) }
            // `withUnsafeBytes` rethrows untyped errors: carry the typed one out in a Result.
            return try key.withUnsafeBytes { bytes in Result { () throws(Failure) in try body(bytes) } }.get()
        case .borrowed(let message):
            return try withExtendedLifetime(message) { () throws(Failure) -> T in try body(message.keyBytes) }
        }
    }

    /// Calls `body` with the value's bytes, valid only during the call (`nil` for a tombstone).
    @inlinable
    public func withUnsafeValue<T, Failure: Error>(
        _ body: (UnsafeRawBufferPointer?) throws(Failure) -> T
    ) throws(Failure) -> T {
        switch content {
        case .owned(_, let value, _):
            guard let value else { return try body(nil) }
            return try value.withUnsafeBytes { bytes in Result { () throws(Failure) in try body(bytes) } }.get()
        case .borrowed(let message):
            return try withExtendedLifetime(message) { () throws(Failure) -> T in try body(message.valueBytes) }
        }
    }

    public var topicPartition: KafkaTopicPartition { KafkaTopicPartition(topic: topic, partition: partition) }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.topic == rhs.topic && lhs.partition == rhs.partition && lhs.offset == rhs.offset
            && lhs.timestampMilliseconds == rhs.timestampMilliseconds && lhs.key == rhs.key
            && lhs.value == rhs.value && lhs.headers == rhs.headers
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(topic)
        hasher.combine(partition)
        hasher.combine(offset)
        hasher.combine(timestampMilliseconds)
        hasher.combine(key)
        hasher.combine(value)
        hasher.combine(headers)
    }

    @usableFromInline enum Content: Sendable {
        case owned(key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader])
        /// In librdkafka's message, which the batch keeps until its last record is gone.
        case borrowed(RDKafkaBorrowedMessage)
    }
}
