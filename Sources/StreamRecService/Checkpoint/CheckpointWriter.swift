import Dispatch
import Foundation
import StreamRecEngine
import StreamRecKafka
import Synchronization

/// Writes checkpoints on a thread of its own so that encoding the engine snapshot, waiting for output and the
/// fsync never stall the pipeline: the loop hands over a copy of the engine (O(1), the engine is a
/// copy-on-write value) and goes on; it learns that the file is durable from ``takeFinished()`` or
/// ``waitForFinished()`` and only then commits the offsets that checkpoint holds. One write at a time.
///
/// The file is written only once the output of the events it holds is delivered (`outputDelivered`):
/// a restart from it must not lose their recommendations and dead letters.
///
/// The thread runs at a lower CPU priority (``niceness``): encoding a snapshot takes hundreds of ms of CPU,
/// which at full priority took a core from the loop and its recommendations every interval and showed in the
/// latency tail. The engine copy is let go as soon as the snapshot is encoded, not after the delivery wait
/// and the fsync: while the writer holds it, every part of the state the loop changes is copied first.
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
    private let thread: BackgroundThread
    private let state = Mutex(State.idle)
    /// The last snapshot's size, reserved for the next one (the writer's thread only reads and sets it).
    private let lastSnapshotBytes = Atomic<Int>(0)
    /// CPU nanoseconds the writer's thread spent on the last checkpoint (``CheckpointSchedule``).
    private let lastCPUNanoseconds = Atomic<Int64>(0)

    /// Added to the writer thread's nice value (Linux; higher is lower priority, at most 19). At +10 the thread
    /// gets about a tenth of a core that the loop also wants, and any core that is idle.
    static let niceness: Int32 = 10

    init(store: CheckpointStore) {
        self.store = store
        thread = BackgroundThread(name: "streamrec-ckpt", niceness: Self.niceness)
    }

    /// True from ``start(engine:nextOffsets:deduplication:pendingRefreshes:createdAtMilliseconds:)`` until its
    /// outcome is taken.
    var isBusy: Bool {
        state.withLock { if case .idle = $0 { false } else { true } }
    }

    /// Begins writing a checkpoint of these values; the caller must have taken the previous outcome.
    ///
    /// - Parameter outputDelivered: blocks until the output of every event in the checkpoint is delivered
    ///   (false: not in time, the checkpoint is postponed); runs on the writer's thread after the encode.
    func start(
        engine: RecommendationEngine, nextOffsets: [KafkaTopicPartition: Int64], deduplication: DeduplicationWindow,
        pendingRefreshes: [(userID: String, entry: PendingRefreshes.Entry)], createdAtMilliseconds: Int64,
        outputDelivered: @escaping @Sendable () throws -> Bool
    ) {
        state.withLock { state in
            guard case .idle = state else { fatalError("a checkpoint was started while another is unfinished") }
            state = .writing(waiter: nil)
        }
        let handedOver = HandedOver(engine: engine, deduplication: deduplication)
        thread.async { [self] in
            let started = ContinuousClock.now
            let startedCPU = Self.threadCPUTime()
            let result = Result { () throws -> Outcome in
                let checkpoint = handedOver.checkpoint(
                    nextOffsets: nextOffsets, createdAtMilliseconds: createdAtMilliseconds,
                    pendingRefreshes: pendingRefreshes, snapshotCapacity: lastSnapshotBytes.load(ordering: .relaxed))
                lastSnapshotBytes.store(checkpoint.engineSnapshot.count, ordering: .relaxed)
                guard try outputDelivered() else { return .postponed }
                try store.persist(checkpoint)
                return .written(Written(
                    nextOffsets: nextOffsets, createdAtMilliseconds: createdAtMilliseconds,
                    duration: ContinuousClock.now - started))
            }
            lastCPUNanoseconds.store((Self.threadCPUTime() - startedCPU).nanoseconds, ordering: .relaxed)
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard case .writing(let waiter) = state else { fatalError("a checkpoint finished twice") }
                state = .finished(result)
                return waiter
            }
            waiter?.resume()
        }
    }

    /// CPU time the writer's thread spent on the last finished checkpoint (encode, write, fsync; not the wait
    /// for output); zero before the first.
    var lastCPUTime: Duration { .nanoseconds(lastCPUNanoseconds.load(ordering: .relaxed)) }

    /// The calling thread's CPU time so far.
    static func threadCPUTime() -> Duration {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
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

/// The engine and dedup window handed to the writer's thread: taken out when the checkpoint is made, so the
/// copies are gone once ``checkpoint(nextOffsets:createdAtMilliseconds:pendingRefreshes:snapshotCapacity:)`` returns instead of
/// being kept by the job's closure until the file is durable.
private final class HandedOver: Sendable {
    private let values: Mutex<(engine: RecommendationEngine, deduplication: DeduplicationWindow)?>

    init(engine: RecommendationEngine, deduplication: DeduplicationWindow) {
        values = Mutex((engine, deduplication))
    }

    func checkpoint(
        nextOffsets: [KafkaTopicPartition: Int64], createdAtMilliseconds: Int64,
        pendingRefreshes: [(userID: String, entry: PendingRefreshes.Entry)], snapshotCapacity: Int
    ) -> Checkpoint {
        guard let (engine, deduplication) = values.withLock({ $0.take() }) else {
            fatalError("a checkpoint's values were taken twice")
        }
        return Checkpoint(
            nextOffsets: nextOffsets, recentEventIDs: deduplication.recent, engineSnapshot: engine.snapshot(reservingCapacity: snapshotCapacity),
            createdAtMilliseconds: createdAtMilliseconds, pendingRefreshes: pendingRefreshes)
    }
}

/// One thread that runs jobs in order, like a serial `DispatchQueue`, but at a lower CPU priority of its own
/// (dispatch's threads are shared, so their priority cannot be changed for one job). The thread ends once
/// this object is gone and its jobs are done.
final class BackgroundThread: Sendable {
    private final class Jobs: Sendable {
        let pending = Mutex<(jobs: [@Sendable () -> Void], isClosed: Bool)>(([], false))
        let available = DispatchSemaphore(value: 0)

        /// The next job, waiting for one; nil once closed and empty.
        func next() -> (@Sendable () -> Void)? {
            while true {
                available.wait()
                let next = pending.withLock { pending -> (job: (@Sendable () -> Void)?, isDone: Bool) in
                    if !pending.jobs.isEmpty { return (pending.jobs.removeFirst(), false) }
                    return (nil, pending.isClosed)
                }
                if let job = next.job { return job }
                if next.isDone { return nil }
            }
        }
    }

    private let jobs = Jobs()

    /// - Parameter name: the thread's name in `top -H` and /proc (Linux keeps the first 15 bytes).
    init(name: String, niceness: Int32) {
        let thread = Thread { [jobs] in
            #if os(Linux)
            // Named from inside, through the kernel's own file (glibc's pthread_setname_np is not visible to
            // Swift): Foundation's `Thread.name`, set before the start, did not reach the OS thread.
            try? String(decoding: name.utf8.prefix(15), as: UTF8.self)
                .write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            // On Linux, `who` 0 with PRIO_PROCESS is the calling thread only, not the whole process.
            let which = __priority_which_t(PRIO_PROCESS.rawValue)
            _ = setpriority(which, 0, min(getpriority(which, 0) + niceness, 19))
            #endif
            while let job = jobs.next() { job() }
        }
        thread.start()
    }

    deinit {
        jobs.pending.withLock { $0.isClosed = true }
        jobs.available.signal()
    }

    func async(_ job: @escaping @Sendable () -> Void) {
        jobs.pending.withLock { $0.jobs.append(job) }
        jobs.available.signal()
    }
}
