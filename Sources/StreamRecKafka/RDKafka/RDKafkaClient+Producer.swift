import CRdKafka
import Synchronization

extension RDKafkaClient {
    struct DeliveryReport {
        /// The per-message opaque given to `produce`.
        var messageID: UInt
        var error: rd_kafka_resp_err_t
        var partition: Int32
        var offset: Int64
    }

    /// Queues one message; never blocks. librdkafka copies key, value and headers.
    ///
    /// The topic goes by its cached handle: naming it would make librdkafka look it up (under its client lock)
    /// for every message.
    ///
    /// `messageID` travels as the message's opaque pointer (an integer, not an object, so nothing needs freeing)
    /// and comes back in its ``DeliveryReport``.
    func produce(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], timestampMilliseconds: Int64?,
        messageID: UInt
    ) throws {
        // Headers are copied into an rd_kafka_headers_t whose ownership passes to the message on success.
        var headerList: OpaquePointer?
        if !headers.isEmpty {
            headerList = rd_kafka_headers_new(headers.count)
            for header in headers {
                withBytes(header.value) { pointer, count in
                    _ = rd_kafka_header_add(headerList, header.key, -1, pointer, count)
                }
            }
        }
        let topicHandle = try topicHandles.handle(for: topic, client: handle)
        let error: OpaquePointer? = withBytes(key) { keyPointer, keyCount in
            withBytes(value) { valuePointer, valueCount in
                // On the stack: this runs once per message.
                withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { fields in
                    var count = 0
                    func add(_ type: rd_kafka_vtype_t, _ set: (inout rd_kafka_vu_t) -> Void) {
                        var field = rd_kafka_vu_t()
                        field.vtype = type
                        set(&field)
                        fields.initializeElement(at: count, to: field)
                        count += 1
                    }
                    add(RD_KAFKA_VTYPE_RKT) { $0.u.rkt = topicHandle }
                    add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                    add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = UnsafeMutableRawPointer(bitPattern: messageID) }
                    if let keyPointer {
                        add(RD_KAFKA_VTYPE_KEY) {
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: keyPointer)
                            $0.u.mem.size = keyCount
                        }
                    }
                    if let valuePointer {
                        add(RD_KAFKA_VTYPE_VALUE) {
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: valuePointer)
                            $0.u.mem.size = valueCount
                        }
                    }
                    if let timestampMilliseconds {
                        add(RD_KAFKA_VTYPE_TIMESTAMP) { $0.u.i64 = timestampMilliseconds }
                    }
                    if let headerList {
                        add(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = headerList }
                    }
                    defer { fields.baseAddress!.deinitialize(count: count) }
                    return rd_kafka_produceva(handle, fields.baseAddress, count)
                }
            }
        }
        if let error {
            if let headerList { rd_kafka_headers_destroy(headerList) }
            throw KafkaError(consuming: error, context: "produce to '\(topic)'")
        }
    }

    /// Serves the producer's main queue: waits up to `timeoutMilliseconds` for the first event, then takes what
    /// else is ready, up to `maxEvents`, handing each event's delivery reports to `onReports` as one batch.
    /// Blocks unless the timeout is 0; call it off the pool otherwise.
    func serveProducerEvents(
        queue: RDKafkaQueue, timeoutMilliseconds: Int32, maxEvents: Int, onReports: ([DeliveryReport]) -> Void
    ) {
        var timeout = timeoutMilliseconds
        for _ in 0..<maxEvents {
            guard let event = rd_kafka_queue_poll(queue.pointer, timeout) else { break }
            defer { rd_kafka_event_destroy(event) }
            timeout = 0
            switch rd_kafka_event_type(event) {
            case RD_KAFKA_EVENT_DR:
                // Handed over before the event is destroyed: rd_kafka_flush counts undestroyed reports as
                // queued, so when flush returns every report has been recorded.
                var reports: [DeliveryReport] = []
                reports.reserveCapacity(rd_kafka_event_message_count(event))
                withUnsafeTemporaryAllocation(of: UnsafePointer<rd_kafka_message_t>?.self, capacity: 1024) { messages in
                    while true {
                        let count = rd_kafka_event_message_array(event, messages.baseAddress, messages.count)
                        if count == 0 { break }
                        for message in messages[0..<count] {
                            guard let message = message?.pointee else { continue }
                            reports.append(
                                DeliveryReport(
                                    messageID: UInt(bitPattern: message._private), error: message.err,
                                    partition: message.partition, offset: message.offset))
                        }
                    }
                }
                onReports(reports)
            case RD_KAFKA_EVENT_ERROR:
                let code = rd_kafka_event_error(event)
                let error =
                    rd_kafka_event_error_is_fatal(event) != 0
                    ? Self.clientError(handle: handle, code: RD_KAFKA_RESP_ERR__FATAL.rawValue, reason: nil)
                    : Self.clientError(handle: handle, code: code.rawValue, reason: rd_kafka_event_error_string(event))
                context.recordError(error)
            case RD_KAFKA_EVENT_STATS:
                if let json = rd_kafka_event_stats(event) {
                    context.recordStatistics(json: Array(String(cString: json).utf8))
                }
            default:
                break
            }
        }
    }

    /// Waits until every queued message is delivered or failed, or the timeout passes. Blocks.
    func flush(timeoutMilliseconds: Int32) throws {
        let result = rd_kafka_flush(handle, timeoutMilliseconds)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(librdkafka: result, context: "flush: \(rd_kafka_outq_len(handle)) messages still queued")
        }
    }

    var outQueueLength: Int { Int(rd_kafka_outq_len(handle)) }

    func mainQueue() -> RDKafkaQueue { RDKafkaQueue(owning: rd_kafka_queue_get_main(handle)) }
}

/// The producer's `rd_kafka_topic_t` handles, one per topic, made on first use and kept for the client's life.
///
/// Handles are thread-safe and reference-counted by librdkafka; ``destroyAll()`` must run before
/// `rd_kafka_destroy`, which ``RDKafkaClient`` does in its `deinit`.
final class RDKafkaTopicHandles: Sendable {
    private let state = Mutex(State())

    private struct State {
        var handles: [String: SendableTopicHandle] = [:]
        /// The handle used last: producers mostly send to one topic, and comparing its name costs less than
        /// hashing it for every message.
        var last: (topic: String, handle: SendableTopicHandle)?
    }

    private struct SendableTopicHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    func handle(for topic: String, client: OpaquePointer) throws -> OpaquePointer {
        let handle: SendableTopicHandle = try state.withLock { state in
            if let last = state.last, last.topic == topic { return last.handle }
            if let known = state.handles[topic] {
                state.last = (topic, known)
                return known
            }
            guard let created = rd_kafka_topic_new(client, topic, nil) else {
                throw KafkaError(librdkafka: rd_kafka_last_error(), context: "topic handle for '\(topic)'")
            }
            let handle = SendableTopicHandle(pointer: created)
            state.handles[topic] = handle
            state.last = (topic, handle)
            return handle
        }
        return handle.pointer
    }

    func destroyAll() {
        state.withLock { state in
            for handle in state.handles.values { rd_kafka_topic_destroy(handle.pointer) }
            state = State()
        }
    }
}

/// Owns a reference to an `rd_kafka_queue_t`.
final class RDKafkaQueue: @unchecked Sendable {
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    deinit { rd_kafka_queue_destroy(pointer) }
}

/// Calls `body` with a pointer and count for `bytes`: `nil` for a missing value, non-null for an empty one
/// (librdkafka tells an empty key from a missing one by the pointer).
func withBytes<T>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> T) -> T {
    guard let bytes else { return body(nil, 0) }
    if bytes.isEmpty {
        return withUnsafeBytes(of: UInt8(0)) { body($0.baseAddress, 0) }
    }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}
