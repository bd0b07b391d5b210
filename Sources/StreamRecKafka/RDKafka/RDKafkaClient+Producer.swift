import CRdKafka

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
        let error: OpaquePointer? = topic.withCString { topicName in
            withBytes(key) { keyPointer, keyCount in
                withBytes(value) { valuePointer, valueCount in
                    var fields: [rd_kafka_vu_t] = []
                    fields.reserveCapacity(7)
                    var field = rd_kafka_vu_t()
                    field.vtype = RD_KAFKA_VTYPE_TOPIC
                    field.u.cstr = topicName
                    fields.append(field)
                    field = rd_kafka_vu_t()
                    field.vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    field.u.i = RD_KAFKA_MSG_F_COPY
                    fields.append(field)
                    field = rd_kafka_vu_t()
                    field.vtype = RD_KAFKA_VTYPE_OPAQUE
                    field.u.ptr = UnsafeMutableRawPointer(bitPattern: messageID)
                    fields.append(field)
                    if let keyPointer {
                        field = rd_kafka_vu_t()
                        field.vtype = RD_KAFKA_VTYPE_KEY
                        field.u.mem.ptr = UnsafeMutableRawPointer(mutating: keyPointer)
                        field.u.mem.size = keyCount
                        fields.append(field)
                    }
                    if let valuePointer {
                        field = rd_kafka_vu_t()
                        field.vtype = RD_KAFKA_VTYPE_VALUE
                        field.u.mem.ptr = UnsafeMutableRawPointer(mutating: valuePointer)
                        field.u.mem.size = valueCount
                        fields.append(field)
                    }
                    if let timestampMilliseconds {
                        field = rd_kafka_vu_t()
                        field.vtype = RD_KAFKA_VTYPE_TIMESTAMP
                        field.u.i64 = timestampMilliseconds
                        fields.append(field)
                    }
                    if let headerList {
                        field = rd_kafka_vu_t()
                        field.vtype = RD_KAFKA_VTYPE_HEADERS
                        field.u.headers = headerList
                        fields.append(field)
                    }
                    return rd_kafka_produceva(handle, fields, fields.count)
                }
            }
        }
        if let error {
            if let headerList { rd_kafka_headers_destroy(headerList) }
            throw KafkaError(consuming: error, context: "produce to '\(topic)'")
        }
    }

    /// Serves the producer's main queue: waits up to `timeoutMilliseconds` for the first event, then takes what
    /// else is ready (bounded), handing each event's delivery reports to `onReports` as one batch. Blocks; call
    /// off the pool.
    func serveProducerEvents(
        queue: RDKafkaQueue, timeoutMilliseconds: Int32, onReports: ([DeliveryReport]) -> Void
    ) {
        var timeout = timeoutMilliseconds
        var messages = [UnsafePointer<rd_kafka_message_t>?](repeating: nil, count: 1024)
        for _ in 0..<64 {
            guard let event = rd_kafka_queue_poll(queue.pointer, timeout) else { break }
            defer { rd_kafka_event_destroy(event) }
            timeout = 0
            switch rd_kafka_event_type(event) {
            case RD_KAFKA_EVENT_DR:
                // Handed over before the event is destroyed: rd_kafka_flush counts undestroyed reports as
                // queued, so when flush returns every report has been recorded.
                var reports: [DeliveryReport] = []
                while true {
                    let count = rd_kafka_event_message_array(event, &messages, messages.count)
                    if count == 0 { break }
                    for message in messages[0..<count] {
                        guard let message = message?.pointee else { continue }
                        reports.append(
                            DeliveryReport(
                                messageID: UInt(bitPattern: message._private), error: message.err,
                                partition: message.partition, offset: message.offset))
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
