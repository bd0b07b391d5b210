import Dispatch
import StreamRecEngine
import StreamRecKafka
import Synchronization

/// Writes checkpoints on a queue of its own so that encoding the engine snapshot, waiting for output and the
/// fsync never stall the pipeline: the loop hands over a copy of the engine (O(1), the engine is a
/// copy-on-write value) and goes on; it learns that the file is durable from ``takeFinished()`` or
/// ``waitForFinished()`` and only then commits the offsets that checkpoint holds. One write at a time.
///
/// The file is written only once the output of the events it holds is delivered (`outputDelivered`):
/// a restart from it must not lose their recommendations and dead letters.
final class CheckpointWriter: Sendable {
    /// What the loop needs to know about a checkpoint once it is on disk.
    struct Written: Sendable {
        /// The offsets the durable checkpoint reflects: safe to commit.
        let nextOffsets: [KafkaTopicPartition: Int64]
        let createdAtMilliseconds: Int64
        /// Encode + waiting for output + write + fsync, off the loop.
        let duration: Duration
    }

    enum Outcome: Sendable {
        case written(Written)
        /// The output was not delivered in time; nothing was written (the next checkpoint tries again).
        case postponed
    }

    private enum State {
        case idle
        case writing(waiter: CheckedContinuation<Void, Never>?)
        case finished(Result<Outcome, any Error>)
    }

    let store: CheckpointStore
    private let queue = DispatchQueue(label: "streamrec.checkpoint-writer")
    private let state = Mutex(State.idle)

    init(store: CheckpointStore) {
        self.store = store
    }

    /// True from ``start(engine:nextOffsets:deduplication:pendingRefreshes:createdAtMilliseconds:)`` until its
    /// outcome is taken.
    var isBusy: Bool {
        state.withLock { if case .idle = $0 { false } else { true } }
    }

    /// Begins writing a checkpoint of these values; the caller must have taken the previous outcome.
    ///
    /// - Parameter outputDelivered: blocks until the output of every event in the checkpoint is delivered
    ///   (false: not in time, the checkpoint is postponed); runs on the writer's queue after the encode.
    func start(
        engine: RecommendationEngine, nextOffsets: [KafkaTopicPartition: Int64], deduplication: DeduplicationWindow,
        pendingRefreshes: [(userID: String, entry: PendingRefreshes.Entry)], createdAtMilliseconds: Int64,
        outputDelivered: @escaping @Sendable () throws -> Bool
    ) {
        state.withLock { state in
            guard case .idle = state else { fatalError("a checkpoint was started while another is unfinished") }
            state = .writing(waiter: nil)
        }
        queue.async { [self] in
            let started = ContinuousClock.now
            let result = Result { () throws -> Outcome in
                let checkpoint = Checkpoint(
                    nextOffsets: nextOffsets, recentEventIDs: deduplication.recent, engineSnapshot: engine.snapshot(),
                    createdAtMilliseconds: createdAtMilliseconds, pendingRefreshes: pendingRefreshes)
                guard try outputDelivered() else { return .postponed }
                try store.persist(checkpoint)
                return .written(Written(
                    nextOffsets: nextOffsets, createdAtMilliseconds: createdAtMilliseconds,
                    duration: ContinuousClock.now - started))
            }
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard case .writing(let waiter) = state else { fatalError("a checkpoint finished twice") }
                state = .finished(result)
                return waiter
            }
            waiter?.resume()
        }
    }

    /// The outcome of the last write once it has finished (the writer is then free again); nil while it is
    /// still writing or when nothing was started.
    func takeFinished() -> Result<Outcome, any Error>? {
        state.withLock { state in
            guard case .finished(let result) = state else { return nil }
            state = .idle
            return result
        }
    }

    /// Waits for the write in progress, if any, and returns its outcome (nil when nothing was started).
    func waitForFinished() async -> Result<Outcome, any Error>? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isWriting = state.withLock { state -> Bool in
                guard case .writing = state else { return false }
                state = .writing(waiter: continuation)
                return true
            }
            if !isWriting { continuation.resume() }
        }
        return takeFinished()
    }
}
