import CRdKafka
import Logging
import Synchronization

/// Receives librdkafka's callbacks for one client.
///
/// Passed to C as the client's opaque pointer via `Unmanaged` without a retain: the owning ``RDKafkaClient``
/// holds it strongly and destroys the `rd_kafka_t` (which joins every librdkafka thread) before releasing it.
final class RDKafkaClientContext: Sendable {
    let logger: Logger
    /// Set for consumers: records rebalances for the poll loop.
    let rebalance: RDKafkaRebalanceRecorder?
    private let latestStatisticsBox = Mutex<KafkaStatistics?>(nil)
    private let fatalErrorBox = Mutex<KafkaError?>(nil)
    /// Set once `fatalErrorBox` holds an error: producers check it per message, and reading the box would
    /// copy (retain and release) the error every time.
    private let hasFatalError = Atomic<Bool>(false)
    /// Set by the owner's `close()`: the client only waits to be released, and losing its brokers then
    /// (a program stopping its embedded broker) is no news worth a warning.
    private let isClosed = Atomic<Bool>(false)

    init(logger: Logger, rebalance: RDKafkaRebalanceRecorder? = nil) {
        self.logger = logger
        self.rebalance = rebalance
    }

    var latestStatistics: KafkaStatistics? { latestStatisticsBox.withLock { $0 } }
    var fatalError: KafkaError? {
        guard hasFatalError.load(ordering: .acquiring) else { return nil }
        return fatalErrorBox.withLock { $0 }
    }

    func recordStatistics(json: [UInt8]) {
        do {
            let statistics = try KafkaStatistics(json: json)
            latestStatisticsBox.withLock { $0 = statistics }
        } catch {
            logger.warning("unreadable librdkafka statistics JSON", metadata: ["error": "\(error)"])
        }
    }

    /// A client-level error from librdkafka's error callback or event. Most clear up on their own
    /// (librdkafka retries); fatal ones make the client unusable and are kept to be thrown from the next call.
    func recordError(_ error: KafkaError) {
        if error.isFatal {
            logger.critical("librdkafka fatal error", metadata: ["error": "\(error)"])
            fatalErrorBox.withLock { if $0 == nil { $0 = error } }
            hasFatalError.store(true, ordering: .releasing)
        } else if isClosed.load(ordering: .relaxed) {
            logger.debug("librdkafka error after close", metadata: ["error": "\(error)"])
        } else {
            logger.warning("librdkafka error", metadata: ["error": "\(error)"])
        }
    }

    func markClosed() { isClosed.store(true, ordering: .relaxed) }

    static func from(_ handle: OpaquePointer?) -> RDKafkaClientContext? {
        guard let handle, let opaque = rd_kafka_opaque(handle) else { return nil }
        return Unmanaged<RDKafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// Owns one `rd_kafka_t`. librdkafka documents its handle as thread-safe, hence `@unchecked Sendable`; every
/// call that can block is made by the public types from their own dispatch queues, never from the cooperative pool.
final class RDKafkaClient: @unchecked Sendable {
    let handle: OpaquePointer
    let context: RDKafkaClientContext
    /// librdkafka's client instance name, e.g. `rdkafka#producer-1`.
    let name: String
    /// Producers' topic handles (empty for other clients).
    let topicHandles = RDKafkaTopicHandles()

    /// Producers report deliveries, errors and statistics as events on the main queue, drained in batches.
    static func makeProducer(properties: [String: String], logger: Logger) throws -> RDKafkaClient {
        try RDKafkaClient(type: RD_KAFKA_PRODUCER, properties: properties, context: RDKafkaClientContext(logger: logger)) {
            config in
            rd_kafka_conf_set_events(config, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR | RD_KAFKA_EVENT_STATS)
        }
    }

    /// Consumers serve callbacks (rebalance, error, statistics) from inside their own poll calls.
    static func makeConsumer(properties: [String: String], logger: Logger) throws -> RDKafkaClient {
        let context = RDKafkaClientContext(logger: logger, rebalance: RDKafkaRebalanceRecorder())
        let client = try RDKafkaClient(type: RD_KAFKA_CONSUMER, properties: properties, context: context) { config in
            rd_kafka_conf_set_rebalance_cb(config, rebalanceCallback)
            rd_kafka_conf_set_error_cb(config, errorCallback)
            rd_kafka_conf_set_stats_cb(config, statisticsCallback)
        }
        // Main-queue callbacks (errors, statistics) are then served by the consumer poll.
        rd_kafka_poll_set_consumer(client.handle)
        return client
    }

    /// A handle nobody polls for messages (admin, mock-cluster owner): only logs and errors are wired.
    static func makeAuxiliary(properties: [String: String], logger: Logger) throws -> RDKafkaClient {
        try RDKafkaClient(type: RD_KAFKA_PRODUCER, properties: properties, context: RDKafkaClientContext(logger: logger)) {
            config in
            rd_kafka_conf_set_error_cb(config, errorCallback)
        }
    }

    private init(
        type: rd_kafka_type_t, properties: [String: String], context: RDKafkaClientContext,
        configure: (OpaquePointer) -> Void
    ) throws {
        let config = try RDKafkaConfig(properties: properties)
        config.withPointer { pointer in
            rd_kafka_conf_set_opaque(pointer, Unmanaged.passUnretained(context).toOpaque())
            rd_kafka_conf_set_log_cb(pointer, logCallback)
            configure(pointer)
        }
        self.context = context
        self.handle = try config.createClient(type: type)
        self.name = String(cString: rd_kafka_name(handle))
    }

    deinit {
        // rd_kafka_destroy closes an unclosed consumer itself and waits for the revocation; with nobody left
        // to poll, the recorder must give partitions up at once.
        context.rebalance?.beginClosing(client: handle, logger: context.logger)
        // Topic handles must be released before their client.
        topicHandles.destroyAll()
        // Joins librdkafka's threads; no callback reaches `context` afterwards.
        rd_kafka_destroy(handle)
    }

    /// Throws the fatal error librdkafka reported, if any.
    func checkFatal() throws {
        if let error = context.fatalError { throw error }
    }

    // MARK: Metadata (blocking)

    /// The cluster's brokers and every topic it knows with its partition count. Blocks up to `timeoutMilliseconds`.
    func clusterMetadata(timeoutMilliseconds: Int32) throws -> KafkaClusterMetadata {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let result = rd_kafka_metadata(handle, 1, nil, &metadata, timeoutMilliseconds)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(librdkafka: result, context: "metadata request")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        var counts: [String: Int] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            counts[String(cString: topic.topic)] = Int(topic.partition_cnt)
        }
        return KafkaClusterMetadata(brokerCount: Int(metadata.pointee.broker_cnt), partitionCounts: counts)
    }

    /// Low and high watermark of one partition, asked from the broker. Blocks up to `timeoutMilliseconds`.
    func queryWatermarks(_ partition: KafkaTopicPartition, timeoutMilliseconds: Int32) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let result = rd_kafka_query_watermark_offsets(
            handle, partition.topic, partition.partition, &low, &high, timeoutMilliseconds)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(librdkafka: result, context: "watermarks of \(partition)")
        }
        return (low, high)
    }

    /// The high watermark librdkafka last saw in a fetch response for this partition, or nil before any.
    /// Never blocks (no broker request).
    func cachedHighWatermark(_ partition: KafkaTopicPartition) -> Int64? {
        var low: Int64 = 0
        var high: Int64 = 0
        let result = rd_kafka_get_watermark_offsets(handle, partition.topic, partition.partition, &low, &high)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return high
    }

    /// The broker's answer to ListOffsets by timestamp (`-1` when it has no such record). Blocks.
    func queryOffsetsForTimes(_ timestamps: [KafkaTopicPartition: Int64], timeoutMilliseconds: Int32) throws
        -> [KafkaTopicPartition: Int64]
    {
        let list = RDKafkaTopicPartitionList(offsets: timestamps)
        let result = rd_kafka_offsets_for_times(handle, list.pointer, timeoutMilliseconds)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(librdkafka: result, context: "offsets for times")
        }
        if let error = list.firstError() { throw error }
        return Dictionary(uniqueKeysWithValues: list.elements.map { ($0.topicPartition, $0.offset) })
    }
}

// MARK: - C callbacks (called on librdkafka's threads; they only reach the context)

private let logCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    handle, level, facility, message in
    guard let context = RDKafkaClientContext.from(handle) else { return }
    let swiftLevel: Logger.Level =
        switch level {
        case ...2: .critical
        case 3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
    context.logger.log(
        level: swiftLevel,
        "\(message.map { String(cString: $0) } ?? "")",
        metadata: [
            "kafka.facility": "\(facility.map { String(cString: $0) } ?? "")",
            "kafka.client": "\(handle.map { String(cString: rd_kafka_name($0)) } ?? "")",
        ]
    )
}

private let errorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    handle, code, reason, _ in
    guard let handle, let context = RDKafkaClientContext.from(handle) else { return }
    context.recordError(RDKafkaClient.clientError(handle: handle, code: code, reason: reason))
}

private let statisticsCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int, UnsafeMutableRawPointer?) -> Int32 = {
    handle, json, length, _ in
    guard let json, let context = RDKafkaClientContext.from(handle) else { return 0 }
    context.recordStatistics(json: Array(UnsafeRawBufferPointer(start: json, count: length)))
    return 0  // librdkafka frees the JSON
}

private let rebalanceCallback: @convention(c) (
    OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
    UnsafeMutableRawPointer?
) -> Void = { handle, code, partitions, _ in
    guard let handle, let context = RDKafkaClientContext.from(handle), let recorder = context.rebalance else { return }
    recorder.handle(client: handle, code: code, partitions: partitions, logger: context.logger)
}

extension RDKafkaClient {
    /// Turns an error-callback code into a ``KafkaError``, fetching the underlying error when it is `_FATAL`.
    static func clientError(handle: OpaquePointer, code: Int32, reason: UnsafePointer<CChar>?) -> KafkaError {
        let reasonText = reason.map { String(cString: $0) } ?? ""
        if code == RD_KAFKA_RESP_ERR__FATAL.rawValue {
            var text = [CChar](repeating: 0, count: 512)
            let original = rd_kafka_fatal_error(handle, &text, text.count)
            return KafkaError(
                code: .librdkafka(original.rawValue), reason: String(errorBuffer: text), isRetriable: false, isFatal: true)
        }
        let base = KafkaError(librdkafka: rd_kafka_resp_err_t(rawValue: code))
        return KafkaError(code: base.code, reason: reasonText.isEmpty ? base.reason : reasonText, isRetriable: base.isRetriable)
    }
}
