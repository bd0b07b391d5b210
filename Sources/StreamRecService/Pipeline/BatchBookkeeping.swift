import StreamRecEngine
import StreamRecKafka
import Synchronization

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

/// The bookkeeping of one batch that does not depend on the engine: positions, the dedup window, owed
/// refreshes, dead letters and counts, kept by the pipeline's prepare stage a slice at a time, in order, on
/// whichever task prepares the slice. The next slice is started only once the one before it is done, so
/// the lock is never contended: it only hands the state from task to task.
final class BatchLedger: Sendable {
    struct State {
        var positions: [KafkaTopicPartition: Int64]
        var deduplication: DeduplicationWindow
        var pending: PendingRefreshes
        var run = PartitionRun()
        var applied = PipelineRun.AppliedBatch()
        /// Events already applied, released by the next ``prepare(_:now:)``.
        var retired: [[Event]] = []
    }

    private let state: Mutex<State>

    /// Takes the values over for the batch, leaving empty ones behind: a copy left there would share their
    /// storage, and the first change here would then copy the whole table.
    init(
        moving positions: inout [KafkaTopicPartition: Int64], _ deduplication: inout DeduplicationWindow,
        _ pending: inout PendingRefreshes
    ) {
        state = Mutex(
            State(
                positions: take(&positions, leaving: [:]),
                deduplication: take(&deduplication, leaving: DeduplicationWindow(capacity: 0)),
                pending: take(&pending, leaving: PendingRefreshes(maxDelay: .zero, maxUsers: 0))))
    }

    /// Decodes the records of one slice and decides, record by record, as if the records before them had
    /// been applied one by one: records below their partition's position are skipped, bad ones
    /// dead-lettered, repeated event ids dropped; each event left is counted and owes its user a refresh.
    /// Returns those events, in order, for the engine.
    func prepare(_ records: ArraySlice<KafkaRecord>, now: ContinuousClock.Instant) -> [Event] {
        state.withLock { state in
            state.retired.removeAll()
            var events: [Event] = []
            events.reserveCapacity(records.count)
            for index in records.indices {
                // Records come in runs of one partition: its position is looked up and stored once per run,
                // not hashed twice per record.
                if !state.run.holds(records[index]) {
                    state.run.store(into: &state.positions)
                    state.run = PartitionRun(of: records[index], positions: state.positions)
                }
                let offset = records[index].offset
                // Already in the state: re-read after a restart from an older committed offset.
                if let next = state.run.next, offset < next { continue }
                state.run.next = offset + 1
                let event: Event
                do throws(EventDecodingError) {
                    // Decoded where librdkafka holds the value: no copy.
                    let decoded = try records[index].withUnsafeValue { (bytes) throws(EventDecodingError) -> Event? in
                        try bytes.map(EventDecoder.decode)
                    }
                    guard let decoded else {
                        state.applied.deadLetters.append(
                            DeadLetter(rejecting: records[index], reason: "null value (tombstone)", field: nil))
                        continue
                    }
                    event = decoded
                } catch {
                    state.applied.decodeErrors += 1
                    state.applied.deadLetters.append(
                        DeadLetter(rejecting: records[index], reason: error.description, field: error.field))
                    continue
                }
                if let eventID = event.eventID, !state.deduplication.insert(eventID) {
                    state.applied.duplicates += 1
                    continue
                }
                state.applied.countsByType[event.type.ordinal] += 1
                // The user's last event is the source of their next recommendations.
                if let userID = event.userID {
                    state.pending.record(
                        userID: userID,
                        .init(
                            source: .init(topic: records[index].topic, partition: records[index].partition, offset: offset),
                            eventTime: event.timestampMilliseconds, recordTimestamp: records[index].timestampMilliseconds),
                        now: now)
                }
                events.append(consume event)
            }
            return events
        }
    }

    /// Hands over events the engine has applied, to be released by the next ``prepare(_:now:)``: releasing
    /// each event's strings is work the applying thread need not do.
    func retire(_ events: [Event]) {
        state.withLock { $0.retired.append(events) }
    }

    /// Hands the state back once every slice is prepared; returns what the batch did besides the engine.
    func finish(
        into positions: inout [KafkaTopicPartition: Int64], _ deduplication: inout DeduplicationWindow,
        _ pending: inout PendingRefreshes
    ) -> PipelineRun.AppliedBatch {
        state.withLock { state in
            state.run.store(into: &state.positions)
            positions = take(&state.positions, leaving: [:])
            deduplication = take(&state.deduplication, leaving: DeduplicationWindow(capacity: 0))
            pending = take(&state.pending, leaving: PendingRefreshes(maxDelay: .zero, maxUsers: 0))
            return state.applied
        }
    }
}

/// `value`, leaving `empty` in its place.
private func take<Value>(_ value: inout Value, leaving empty: Value) -> Value {
    var taken = empty
    swap(&taken, &value)
    return taken
}
