import CRdKafka
import Logging
import Synchronization

/// A rebalance as the consumer's poll loop reports it.
enum RDKafkaRebalanceEvent: Sendable {
    case assigned([KafkaTopicPartition])
    case revoked([KafkaTopicPartition])
}

/// Handles librdkafka's rebalance callback so that the caller hears of a revocation *before* it loses the
/// partitions.
///
/// The callback runs on the thread inside `rd_kafka_consumer_poll`/`rd_kafka_consume_batch_queue` (our consumer's
/// poll queue) or inside `rd_kafka_consumer_close`. An assignment is applied at once (gaining partitions loses
/// nothing). A revocation is only recorded: librdkafka lets the group wait until the application calls
/// `rd_kafka_assign(NULL)`/`rd_kafka_incremental_unassign`, which ``completePendingRevocation(client:)`` does at
/// the start of the *next* poll — after the caller has seen the revoked event and committed or flushed its state.
/// The caller must poll again within `max.poll.interval.ms`, or the group moves on without it.
final class RDKafkaRebalanceRecorder: Sendable {
    private struct State {
        var events: [RDKafkaRebalanceEvent] = []
        var pendingRevocation: (partitions: [KafkaTopicPartition], isCooperative: Bool)?
        var assignment: Set<KafkaTopicPartition> = []
        var isClosing = false
        /// Where partitions start when next assigned, instead of the group's committed offset.
        var startOffsets: [KafkaTopicPartition: Int64] = [:]
        /// Partitions without a start offset start at the beginning of their log, not at the committed offset.
        var startsOthersAtBeginning = false
    }
    private let state = Mutex(State())

    var assignment: [KafkaTopicPartition] { state.withLock { $0.assignment.sorted() } }
    var hasPendingRevocation: Bool { state.withLock { $0.pendingRevocation != nil } }

    func setStartOffsets(_ offsets: [KafkaTopicPartition: Int64]) {
        state.withLock { $0.startOffsets.merge(offsets) { $1 } }
    }

    func startOtherPartitionsAtBeginning() {
        state.withLock { $0.startsOthersAtBeginning = true }
    }

    func handle(
        client: OpaquePointer, code: rd_kafka_resp_err_t,
        partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, logger: Logger
    ) {
        let changed = partitions.map { RDKafkaTopicPartitionList.elements(of: $0).map(\.topicPartition) } ?? []
        let isCooperative = String(cString: rd_kafka_rebalance_protocol(client)) == "COOPERATIVE"
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            // The offsets go into the assignment itself: a seek after it races librdkafka's own lookup of the
            // committed offset, which could start the partition there instead.
            let (startOffsets, startsOthersAtBeginning) = state.withLock { ($0.startOffsets, $0.startsOthersAtBeginning) }
            if let partitions, !startOffsets.isEmpty || startsOthersAtBeginning, let elements = partitions.pointee.elems {
                for index in 0..<Int(partitions.pointee.cnt) {
                    let partition = KafkaTopicPartition(
                        topic: String(cString: elements[index].topic), partition: elements[index].partition)
                    if let offset = startOffsets[partition] {
                        elements[index].offset = offset
                    } else if startsOthersAtBeginning {
                        elements[index].offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
                    }
                }
            }
            if isCooperative {
                if let error = rd_kafka_incremental_assign(client, partitions) {
                    logger.error("incremental assign failed", metadata: ["error": "\(KafkaError(consuming: error))"])
                }
            } else {
                rd_kafka_assign(client, partitions)
            }
            state.withLock {
                $0.assignment.formUnion(changed)
                $0.events.append(.assigned(changed))
            }
            logger.debug("partitions assigned", metadata: ["kafka.partitions": "\(changed)"])
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let isClosing = state.withLock { state in
                if !state.isClosing {
                    state.events.append(.revoked(changed))
                    state.pendingRevocation = (changed, isCooperative)
                }
                return state.isClosing
            }
            if isClosing {
                // close() already let the caller commit; nobody polls any more, so give them up now.
                Self.unassign(client: client, partitions: changed, isCooperative: isCooperative, logger: logger)
                state.withLock { $0.assignment.subtract(changed) }
            } else {
                // Return from the poll call promptly so the caller sees the revocation.
                rd_kafka_yield(client)
            }
            logger.debug("partitions revoked", metadata: ["kafka.partitions": "\(changed)"])
        default:
            logger.warning("rebalance failed, dropping the assignment", metadata: ["error": "\(KafkaError(librdkafka: code))"])
            rd_kafka_assign(client, nil)
            state.withLock { state in
                let lost = state.assignment.sorted()
                state.assignment = []
                state.pendingRevocation = nil
                if !lost.isEmpty { state.events.append(.revoked(lost)) }
            }
        }
    }

    /// Gives up the partitions of a revocation the caller has already been shown. Call on the poll thread.
    func completePendingRevocation(client: OpaquePointer, logger: Logger) {
        guard let pending = state.withLock({ state in
            defer { state.pendingRevocation = nil }
            return state.pendingRevocation
        }) else { return }
        Self.unassign(client: client, partitions: pending.partitions, isCooperative: pending.isCooperative, logger: logger)
        state.withLock { $0.assignment.subtract(pending.partitions) }
    }

    /// From now on revocations are applied at once (close is leaving the group).
    func beginClosing(client: OpaquePointer, logger: Logger) {
        state.withLock { $0.isClosing = true }
        completePendingRevocation(client: client, logger: logger)
    }

    func drainEvents() -> [RDKafkaRebalanceEvent] {
        state.withLock { state in
            defer { state.events.removeAll() }
            return state.events
        }
    }

    private static func unassign(
        client: OpaquePointer, partitions: [KafkaTopicPartition], isCooperative: Bool, logger: Logger
    ) {
        if isCooperative {
            let list = RDKafkaTopicPartitionList(partitions)
            if let error = rd_kafka_incremental_unassign(client, list.pointer) {
                logger.error("incremental unassign failed", metadata: ["error": "\(KafkaError(consuming: error))"])
            }
        } else {
            rd_kafka_assign(client, nil)
        }
    }
}
