import CRdKafka
import Synchronization

/// The messages of one poll, destroyed together once no record reads from them any more.
///
/// `@unchecked Sendable`: the message pointers never change, a delivered message's key, payload and fields
/// are only read, `rd_kafka_message_destroy` may run on any thread, and the one call that writes into a
/// message (`rd_kafka_message_headers` caches what it parsed) runs under `headersLock`.
final class RDKafkaMessageBatch: @unchecked Sendable {
    private let messages: UnsafeMutableBufferPointer<UnsafeMutablePointer<rd_kafka_message_t>>
    /// Every message must be destroyed before its client's `rd_kafka_destroy`: the batch keeps the client.
    private let client: RDKafkaClient
    private let headersLock = Mutex<Void>(())

    /// Takes ownership of `messages` (records only: no error messages).
    init(_ messages: some Collection<UnsafeMutablePointer<rd_kafka_message_t>>, client: RDKafkaClient) {
        self.messages = .allocate(capacity: messages.count)
        _ = self.messages.initialize(from: messages)
        self.client = client
    }

    deinit {
        for message in messages { rd_kafka_message_destroy(message) }
        messages.deallocate()
    }

    var count: Int { messages.count }

    func message(at index: Int) -> RDKafkaBorrowedMessage {
        RDKafkaBorrowedMessage(batch: self, message: messages[index])
    }

    func withHeadersLock<T>(_ body: () -> T) -> T {
        headersLock.withLock { _ in body() }
    }
}

/// One message of an ``RDKafkaMessageBatch``, which it keeps alive.
@usableFromInline
struct RDKafkaBorrowedMessage: @unchecked Sendable {
    let batch: RDKafkaMessageBatch
    let message: UnsafeMutablePointer<rd_kafka_message_t>

    /// Valid while this message (its batch) lives.
    @usableFromInline var keyBytes: UnsafeRawBufferPointer? {
        message.pointee.key.map { UnsafeRawBufferPointer(start: $0, count: message.pointee.key_len) }
    }

    /// Valid while this message (its batch) lives.
    @usableFromInline var valueBytes: UnsafeRawBufferPointer? {
        message.pointee.payload.map { UnsafeRawBufferPointer(start: $0, count: message.pointee.len) }
    }

    var headers: [KafkaHeader] {
        batch.withHeadersLock { RDKafkaClient.headers(of: message) }
    }
}
