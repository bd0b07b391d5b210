/// An error from the Kafka client, the embedded broker or librdkafka itself.
///
/// Errors surface in three places: thrown by the call that failed (configuration, produce, commit, admin),
/// thrown by ``KafkaProducer/send(topic:key:value:headers:timestampMilliseconds:)`` when its delivery report fails, and thrown by
/// ``KafkaProducer/flush(timeout:)`` for the first failed ``KafkaProducer/enqueue(topic:key:value:headers:timestampMilliseconds:)``.
/// Retry when ``isRetriable`` is true; a fatal error (``isFatal``) means the client must be recreated.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, comparable across librdkafka versions.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Backing: Hashable, Sendable {
            /// librdkafka's `rd_kafka_resp_err_t`: negative values are client-side, positive ones the broker's.
            case librdkafka(Int32)
            case configuration
            case closed
            case portInUse
            case invalidArgument
        }
        let backing: Backing

        /// A librdkafka error code (`rd_kafka_resp_err_t`).
        public static func librdkafka(_ rawValue: Int32) -> Code { Code(backing: .librdkafka(rawValue)) }
        /// A configuration property was rejected; the reason names the key.
        public static let configuration = Code(backing: .configuration)
        /// The client was already closed.
        public static let closed = Code(backing: .closed)
        /// The embedded broker could not bind the fixed port it was asked for.
        public static let portInUse = Code(backing: .portInUse)
        /// An argument was out of range (for example a partition count below 1).
        public static let invalidArgument = Code(backing: .invalidArgument)

        /// `MSG_SIZE_TOO_LARGE`: the message exceeds `message.max.bytes`.
        public static let messageTooLarge = librdkafka(10)
        /// `_TIMED_OUT`: a blocking operation did not finish in time.
        public static let timedOut = librdkafka(-185)
        /// `_MSG_TIMED_OUT`: a message was not delivered within `message.timeout.ms`.
        public static let messageTimedOut = librdkafka(-192)
        /// `_QUEUE_FULL`: the producer queue (`queue.buffering.max.*`) is full.
        public static let queueFull = librdkafka(-184)
        /// `TOPIC_ALREADY_EXISTS`.
        public static let topicAlreadyExists = librdkafka(36)
        /// `UNKNOWN_TOPIC_OR_PART`.
        public static let unknownTopicOrPartition = librdkafka(3)

        public var description: String {
            switch backing {
            case .librdkafka(let raw): return "librdkafka(\(raw))"
            case .configuration: return "configuration"
            case .closed: return "closed"
            case .portInUse: return "portInUse"
            case .invalidArgument: return "invalidArgument"
            }
        }
    }

    public let code: Code
    /// Human-readable reason; for librdkafka errors this is librdkafka's own text.
    public let reason: String
    /// The operation may succeed if repeated.
    public let isRetriable: Bool
    /// The client is unusable and must be recreated.
    public let isFatal: Bool
    /// Where in this module the error was made.
    public let file: String
    public let line: Int

    init(
        code: Code, reason: String, isRetriable: Bool = false, isFatal: Bool = false,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.reason = reason
        self.isRetriable = isRetriable
        self.isFatal = isFatal
        self.file = file
        self.line = line
    }

    public var description: String {
        var text = "KafkaError(\(code)): \(reason)"
        if isFatal { text += " [fatal]" } else if isRetriable { text += " [retriable]" }
        return text
    }
}
