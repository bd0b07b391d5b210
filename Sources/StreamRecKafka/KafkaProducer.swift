import CRdKafka
import Dispatch
import Logging
import Synchronization

/// A Kafka producer over librdkafka.
///
/// Idempotence (`enable.idempotence=true`) is on unless the configuration says otherwise, so retries never
/// duplicate or reorder messages within a partition. Two ways to produce:
/// - ``send(topic:key:value:headers:timestampMilliseconds:)`` waits for the message's delivery report and throws its failure;
/// - ``enqueue(topic:key:value:headers:timestampMilliseconds:)`` returns once librdkafka has the message; failures surface from the
///   next ``flush(timeout:)``. At most `inFlightLimit` messages (both kinds) are undelivered at any time:
///   further calls suspend until reports free a sixteenth of the window (at least one slot).
///
/// Delivery reports, errors and statistics come from librdkafka's queue. While `enqueue` is being called, the
/// enqueuing task serves them (one waiting event per call, without blocking) and the dedicated poller thread
/// stays off the queue; the poller serves them as soon as enqueues pause (about 1 ms) or one waits for the
/// window. Call ``close()`` when done; it flushes.
public final class KafkaProducer: Sendable {
    private let core: Core
    private let blockingQueue = DispatchQueue(label: "streamrec.kafka.producer.blocking")

    /// - Parameters:
    ///   - inFlightLimit: most undelivered messages before `send`/`enqueue` suspend. Default: 100 000.
    public init(configuration: KafkaConfiguration, inFlightLimit: Int = 100_000, logger: Logger) throws {
        precondition(inFlightLimit > 0, "inFlightLimit must be positive")
        let properties = configuration.librdkafkaProperties(
            defaults: [
                "enable.idempotence": "true",
                // librdkafka's queue must hold the whole window, or produce fails with QUEUE_FULL first; it counts
                // a message until its report event is destroyed, just after our window frees the slot, so
                // leave headroom.
                "queue.buffering.max.messages": String(max(2 * inFlightLimit, 100_000)),
            ])
        let client = try RDKafkaClient.makeProducer(properties: properties, logger: logger)
        core = Core(client: client, inFlightLimit: inFlightLimit)
        let core = core
        // The poller holds the core, not the producer, so dropping the producer stops it.
        DispatchQueue(label: "streamrec.kafka.producer.poller").async { core.pollUntilStopped() }
    }

    deinit { core.stopPolling() }

    /// Produces one message and waits for its delivery report.
    ///
    /// - Parameters:
    ///   - key: `nil` for no key; the default partitioner hashes it, so equal keys share a partition and order.
    ///   - value: `nil` produces a tombstone.
    ///   - timestampMilliseconds: the record's create time; `nil` stamps the current time. Replays of history
    ///     pass the original event time so offsets-for-times finds it.
    /// - Returns: where the message landed.
    /// - Throws: ``KafkaError`` with librdkafka's reason when the message is rejected (e.g. too large) or not
    ///   delivered within `message.timeout.ms`. Cancelling the task does not recall a message already queued.
    @discardableResult
    nonisolated(nonsending) public func send(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], timestampMilliseconds: Int64? = nil
    ) async throws -> (partition: Int32, offset: Int64) {
        if try !core.tryAcquireSlot() { await core.waitForSlot() }
        let messageID = core.makeMessageID()
        return try await withCheckedThrowingContinuation { continuation in
            core.registerSend(messageID, continuation)
            do {
                try core.client.produce(
                    topic: topic, key: key, value: value, headers: headers,
                    timestampMilliseconds: timestampMilliseconds, messageID: messageID)
            } catch {
                core.failSend(messageID, error)
            }
        }
    }

    /// Hands one message to librdkafka without waiting for delivery; suspends only while `inFlightLimit`
    /// messages are undelivered.
    ///
    /// - Throws: ``KafkaError`` when librdkafka rejects the message at once (e.g. too large). Delivery failures
    ///   are thrown by the next ``flush(timeout:)``.
    ///
    /// Runs on the caller's executor (`nonisolated(nonsending)`): it never blocks, and hopping to the global
    /// executor and back for every message was a measurable share of its CPU (docs/performance.md).
    nonisolated(nonsending) public func enqueue(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], timestampMilliseconds: Int64? = nil
    ) async throws {
        let messageID: UInt
        if let acquired = try core.tryAcquireEnqueueSlot() {
            messageID = acquired
        } else {
            // Reports already waiting free slots without a hand-over to the poller thread.
            core.serveReadyEvents(maxEvents: 64)
            if let acquired = try core.tryAcquireEnqueueSlot() {
                messageID = acquired
            } else {
                await core.waitForSlot()
                messageID = core.countEnqueued()
            }
        }
        do {
            try core.client.produce(
                topic: topic, key: key, value: value, headers: headers, timestampMilliseconds: timestampMilliseconds,
                messageID: messageID)
        } catch {
            core.uncountEnqueued(messageID)
            core.releaseSlot()
            throw error
        }
        core.serveReadyEvents(maxEvents: 1)
    }

    /// Marks every message enqueued so far; ``waitForDelivery(of:timeout:)`` then waits for exactly those,
    /// where ``flush(timeout:)`` would also wait for everything enqueued after (and never returns while
    /// output keeps flowing).
    public func markDelivery() -> KafkaDeliveryMark { core.markDelivery() }

    /// Blocks the calling thread until every message enqueued before `mark` is delivered, or `timeout` passes.
    /// Call it from a thread of your own (a `DispatchQueue`), never from the cooperative pool.
    ///
    /// - Returns: false when the timeout passed first.
    /// - Throws: the delivery failure of one of those messages (librdkafka gave up after its retries); a lost
    ///   message fails every later mark too, since it was enqueued before them.
    public func waitForDelivery(of mark: KafkaDeliveryMark, timeout: Duration) throws -> Bool {
        try core.waitForDelivery(of: mark, timeout: timeout)
    }

    /// Messages handed to librdkafka and not yet reported delivered or failed.
    public var inFlightCount: Int { core.inFlightCount }

    /// The statistics librdkafka reported last, when ``KafkaConfiguration/statisticsInterval`` is set.
    public var latestStatistics: KafkaStatistics? { core.client.context.latestStatistics }

    /// Waits until every message so far is delivered or failed (`rd_kafka_flush`; the poller records each
    /// report before librdkafka counts its message as done, so failures are known when this returns).
    ///
    /// - Throws: the first delivery failure of an ``enqueue(topic:key:value:headers:timestampMilliseconds:)``ed message since the last
    ///   flush, or a timeout error naming how many messages are still queued.
    public func flush(timeout: Duration) async throws {
        let client = core.client
        try await blockingQueue.runBlocking { try client.flush(timeoutMilliseconds: Int32(timeout.milliseconds)) }
        if let failure = core.takeEnqueueFailure() { throw failure }
    }

    /// Flushes (up to 30 s, logging what could not be delivered) and stops the producer. Idempotent.
    public func close() async {
        guard core.markClosed() else { return }
        do {
            try await flush(timeout: .seconds(30))
        } catch {
            core.client.context.logger.error("producer closed with undelivered messages", metadata: ["error": "\(error)"])
        }
        core.client.context.markClosed()
        core.stopPolling()
    }
}

/// The messages ``KafkaProducer/enqueue(topic:key:value:headers:timestampMilliseconds:)`` had accepted when
/// ``KafkaProducer/markDelivery()`` was called.
public struct KafkaDeliveryMark: Sendable, Hashable {
    /// Messages enqueued before the mark belong to this epoch or an earlier one.
    let epoch: UInt
}

extension KafkaProducer {
    /// State shared by the public API and the poller thread.
    final class Core: Sendable {
        let client: RDKafkaClient
        private let mainQueue: RDKafkaQueue
        private let inFlightLimit: Int
        /// Slot waiters resume once this many slots are free: resuming one per report would hand the work back
        /// and forth between the enqueuing task and the poller for every report while the window is full.
        private let resumeGap: Int
        private let isPolling = Atomic<Bool>(true)
        /// Set by every enqueue that served the queue; the poller clears it and stays off the queue while it
        /// comes back set. Two threads serving one queue contend for its lock, for librdkafka's message-count
        /// lock (taken per freed message) and for malloc's arena (messages allocated by one, freed by the other).
        private let enqueuerIsServing = Atomic<Bool>(false)
        /// Wakes the poller out of its pause when an enqueuer stops to wait for the window.
        private let pollerWakeUp = DispatchSemaphore(value: 0)
        private let state = Mutex(State())

        private struct State {
            var nextMessageID: UInt = 1
            var inFlight = 0
            var isClosed = false
            var pendingSends: [UInt: CheckedContinuation<(partition: Int32, offset: Int64), any Error>] = [:]
            var slotWaiters: [CheckedContinuation<Void, Never>] = []
            var firstEnqueueFailure: KafkaError?
            /// Enqueued messages are counted per delivery epoch (``KafkaDeliveryMark``): the current epoch in
            /// a plain counter (the per-message path), earlier ones in a map only while they have messages
            /// undelivered (marks are rare).
            var epoch: UInt = 0
            var undeliveredInEpoch = 0
            var undeliveredInEarlierEpochs: [UInt: Int] = [:]
            /// The first delivery failure per epoch, for ``waitForDelivery(of:timeout:)``.
            var failureInEpoch: [UInt: KafkaError] = [:]
            var deliveryWaiters: [DispatchSemaphore] = []
        }

        /// Set in an enqueued message's opaque id (sends number theirs from 1 and never reach it); the low
        /// bits carry the message's delivery epoch.
        static let enqueueTag: UInt = 1 << (UInt.bitWidth - 1)

        init(client: RDKafkaClient, inFlightLimit: Int) {
            self.client = client
            self.mainQueue = client.mainQueue()
            self.inFlightLimit = inFlightLimit
            self.resumeGap = max(1, inFlightLimit / 16)
        }

        var inFlightCount: Int { state.withLock { $0.inFlight } }

        func pollUntilStopped() {
            while isPolling.load(ordering: .relaxed) {
                if enqueuerIsServing.exchange(false, ordering: .relaxed) {
                    _ = pollerWakeUp.wait(timeout: .now() + .milliseconds(1))
                    continue
                }
                client.serveProducerEvents(queue: mainQueue, timeoutMilliseconds: 100, maxEvents: 64) { reports in
                    handle(reports)
                }
            }
        }

        /// Handles up to `maxEvents` events that are already waiting, without blocking, and keeps the poller
        /// off the queue meanwhile. Called after each enqueue (one event), as kcat calls `rd_kafka_poll(rk, 0)`
        /// after each message: the thread that allocated the messages frees them (docs/performance.md).
        func serveReadyEvents(maxEvents: Int) {
            enqueuerIsServing.store(true, ordering: .relaxed)
            client.serveProducerEvents(queue: mainQueue, timeoutMilliseconds: 0, maxEvents: maxEvents) { reports in
                handle(reports)
            }
        }

        func stopPolling() {
            isPolling.store(false, ordering: .relaxed)
            pollerWakeUp.signal()
        }

        /// Returns false when already closed.
        func markClosed() -> Bool {
            state.withLock { state in
                defer { state.isClosed = true }
                return !state.isClosed
            }
        }

        /// ``tryAcquireSlot()`` for an enqueued message, which is counted in the current delivery epoch; returns
        /// its opaque id, nil while the window is full.
        func tryAcquireEnqueueSlot() throws -> UInt? {
            try client.checkFatal()
            return try state.withLock { state in
                try takeFreeSlot(&state) ? Self.countEnqueued(&state) : nil
            }
        }

        /// Counts an enqueued message that got its slot from ``waitForSlot()``; returns its opaque id.
        func countEnqueued() -> UInt {
            state.withLock { Self.countEnqueued(&$0) }
        }

        private static func countEnqueued(_ state: inout State) -> UInt {
            state.undeliveredInEpoch += 1
            return enqueueTag | state.epoch
        }

        /// The produce call failed: no report will come for this message.
        func uncountEnqueued(_ messageID: UInt) {
            let waiters = state.withLock { Self.settle(messageID, failure: nil, &$0) }
            waiters.forEach { $0.signal() }
        }

        /// One enqueued message is done; returns the delivery waiters to wake when an earlier epoch drained or
        /// failed.
        private static func settle(_ messageID: UInt, failure: KafkaError?, _ state: inout State) -> [DispatchSemaphore] {
            let epoch = messageID & ~enqueueTag
            if let failure, state.failureInEpoch[epoch] == nil { state.failureInEpoch[epoch] = failure }
            if epoch == state.epoch {
                // No mark covers the current epoch yet, so nobody waits for it.
                state.undeliveredInEpoch -= 1
                return []
            }
            let left = (state.undeliveredInEarlierEpochs[epoch] ?? 1) - 1
            state.undeliveredInEarlierEpochs[epoch] = left > 0 ? left : nil
            return left > 0 && failure == nil ? [] : state.deliveryWaiters
        }

        func markDelivery() -> KafkaDeliveryMark {
            state.withLock { state in
                let mark = KafkaDeliveryMark(epoch: state.epoch)
                if state.undeliveredInEpoch > 0 { state.undeliveredInEarlierEpochs[state.epoch] = state.undeliveredInEpoch }
                state.undeliveredInEpoch = 0
                state.epoch += 1
                return mark
            }
        }

        func waitForDelivery(of mark: KafkaDeliveryMark, timeout: Duration) throws -> Bool {
            let deadline = DispatchTime.now() + .milliseconds(Int(timeout.milliseconds))
            let woken = DispatchSemaphore(value: 0)
            defer { state.withLock { $0.deliveryWaiters.removeAll { $0 === woken } } }
            while true {
                let outcome: Result<Bool, KafkaError> = state.withLock { state in
                    if let failure = state.failureInEpoch.filter({ $0.key <= mark.epoch }).min(by: { $0.key < $1.key }) {
                        return .failure(failure.value)
                    }
                    if state.undeliveredInEarlierEpochs.keys.allSatisfy({ $0 > mark.epoch }) { return .success(true) }
                    if !state.deliveryWaiters.contains(where: { $0 === woken }) { state.deliveryWaiters.append(woken) }
                    return .success(false)
                }
                if try outcome.get() { return true }
                if woken.wait(timeout: deadline) == .timedOut { return false }
            }
        }

        func makeMessageID() -> UInt {
            state.withLock { state in
                defer { state.nextMessageID &+= 1 }
                return state.nextMessageID
            }
        }

        /// Takes a slot of the in-flight window if one is free; a synchronous call, as it succeeds for nearly
        /// every message.
        func tryAcquireSlot() throws -> Bool {
            try client.checkFatal()
            return try state.withLock { try takeFreeSlot(&$0) }
        }

        /// Takes a slot under the lock if one is free. Waiters go first: they wait for the window to drain by
        /// `resumeGap`.
        private func takeFreeSlot(_ state: inout State) throws -> Bool {
            guard !state.isClosed else { throw KafkaError(code: .closed, reason: "the producer is closed") }
            guard state.inFlight < inFlightLimit, state.slotWaiters.isEmpty else { return false }
            state.inFlight += 1
            return true
        }

        /// Suspends until delivery reports free `resumeGap` slots (or the waiters before it are served), and takes one.
        func waitForSlot() async {
            // Only the poller can serve the report now: wake it out of its pause.
            enqueuerIsServing.store(false, ordering: .relaxed)
            pollerWakeUp.signal()
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Checked again under the same lock the poller frees slots with, so no wake-up is lost.
                let acquiredNow = state.withLock { state in
                    guard state.inFlight < inFlightLimit, state.slotWaiters.isEmpty else {
                        state.slotWaiters.append(continuation)
                        return false
                    }
                    state.inFlight += 1
                    return true
                }
                if acquiredNow { continuation.resume() }
            }
        }

        func releaseSlot() {
            state.withLock { freeSlot(&$0) }?.resume()
        }

        /// Hands the slot to the first waiter once `resumeGap` slots are free (returned, to be resumed outside the
        /// lock), or frees it. Waiters exist only while messages are in flight, whose reports resume them.
        private func freeSlot(_ state: inout State) -> CheckedContinuation<Void, Never>? {
            if !state.slotWaiters.isEmpty, state.inFlight - 1 <= inFlightLimit - resumeGap {
                return state.slotWaiters.removeFirst()
            }
            state.inFlight -= 1
            return nil
        }

        func registerSend(_ messageID: UInt, _ continuation: CheckedContinuation<(partition: Int32, offset: Int64), any Error>) {
            state.withLock { $0.pendingSends[messageID] = continuation }
        }

        /// The produce call itself failed: no report will come, so finish the send here (exactly once: whoever
        /// removes the continuation under the lock resumes it).
        func failSend(_ messageID: UInt, _ error: any Error) {
            let (continuation, waiter) = state.withLock { state in
                (state.pendingSends.removeValue(forKey: messageID), freeSlot(&state))
            }
            continuation?.resume(throwing: error)
            waiter?.resume()
        }

        /// Delivery reports from the poller thread.
        private func handle(_ reports: [RDKafkaClient.DeliveryReport]) {
            var sends: [(CheckedContinuation<(partition: Int32, offset: Int64), any Error>, RDKafkaClient.DeliveryReport)] = []
            var waiters: [CheckedContinuation<Void, Never>] = []
            var deliveryWaiters: [DispatchSemaphore] = []
            state.withLock { state in
                for report in reports {
                    if report.messageID & Self.enqueueTag != 0 {
                        var failure: KafkaError?
                        if report.error != RD_KAFKA_RESP_ERR_NO_ERROR {
                            failure = KafkaError(librdkafka: report.error, context: "delivery")
                            if state.firstEnqueueFailure == nil { state.firstEnqueueFailure = failure }
                        }
                        for waiter in Self.settle(report.messageID, failure: failure, &state)
                        where !deliveryWaiters.contains(where: { $0 === waiter }) {
                            deliveryWaiters.append(waiter)
                        }
                    } else if let continuation = state.pendingSends.removeValue(forKey: report.messageID) {
                        sends.append((continuation, report))
                    }
                    if let waiter = freeSlot(&state) { waiters.append(waiter) }
                }
            }
            deliveryWaiters.forEach { $0.signal() }
            for (continuation, report) in sends {
                if report.error == RD_KAFKA_RESP_ERR_NO_ERROR {
                    continuation.resume(returning: (report.partition, report.offset))
                } else {
                    continuation.resume(throwing: KafkaError(librdkafka: report.error, context: "delivery"))
                }
            }
            waiters.forEach { $0.resume() }
        }

        func takeEnqueueFailure() -> KafkaError? {
            state.withLock { state in
                defer { state.firstEnqueueFailure = nil }
                return state.firstEnqueueFailure
            }
        }
    }
}
