import Foundation
import Logging
import ServiceLifecycle
import StreamRecEngine
import StreamRecKafka

/// The whole service loop, one batch at a time:
///
///     poll → decode (bad → dead-letter topic) → drop duplicate event_ids
///          → note each event's user as owed a refresh (``PendingRefreshes``): all on another task, a slice ahead
///          → apply to the engine
///          → recommend the due users (in parallel) → publish
///          → (when ``CheckpointSchedule`` says so) hand a checkpoint to the writer; commit once it is durable
///
/// Caught up, every batch's users are due at once: one recommendation per user per batch. Behind (a poll
/// comes back full, or the broker held a batch of unread records at the last fetch), refreshes wait and
/// coalesce until caught up, `coalesce_max_delay` or `coalesce_max_users`: a recommendation for a user whose
/// later events are still unread is stale on arrival, so this only drops wasted work.
///
/// Restart safety: the engine snapshot, the offsets it reflects and the dedup window are written together
/// (``CheckpointStore``, on the ``CheckpointWriter``'s own queue while the loop goes on), once the output
/// enqueued before the checkpoint is delivered, and only once the file is durable are those offsets
/// committed to Kafka. On start the checkpoint is loaded and every
/// partition resumes at exactly its offset; records below it are skipped, so a crash at any point applies
/// each event to the state once. Refreshes still owed are part of the checkpoint and published after a
/// restore, so committing offsets never loses a user's recommendation. Output may repeat after a crash
/// (same key, newer value).
public struct StreamingPipeline: Service {
    let configuration: ServiceConfiguration
    let state: LiveState
    let metrics: ServiceMetrics
    let logger: Logger

    public init(configuration: ServiceConfiguration, state: LiveState, metrics: ServiceMetrics, logger: Logger) {
        self.configuration = configuration
        self.state = state
        self.metrics = metrics
        self.logger = logger
    }

    /// The consumer's `fetch.wait.max.ms` unless `kafka.properties` sets it.
    public static let defaultFetchWaitMilliseconds = "10"

    /// `kafka` as the output producer uses it: `linger.ms` 1 unless `kafka.properties` sets a linger. A batch's
    /// recommendations are enqueued together, so each would wait the whole linger (librdkafka's 5 ms); batches
    /// still fill without it under load, while earlier requests are in flight.
    public static func outputProducerConfiguration(_ kafka: KafkaConfiguration) -> KafkaConfiguration {
        var producerKafka = kafka
        if producerKafka.properties["linger.ms"] == nil, producerKafka.properties["queue.buffering.max.ms"] == nil {
            producerKafka.properties["linger.ms"] = "1"
        }
        return producerKafka
    }

    public func run() async throws {
        if configuration.kafka.createTopics {
            await TopicSetup(kafka: configuration.kafka, logger: logger).createMissingTopics()
        }
        let store = CheckpointStore(directory: configuration.checkpoint.stateDirectory)
        var run = try await PipelineRun(
            configuration: configuration, store: store, state: state, metrics: metrics, logger: logger)
        try await run.consumeUntilShutdown()
    }
}

/// The mutable state of one `run()`; a struct owned by the loop, so nothing here needs a lock.
struct PipelineRun {
    let configuration: ServiceConfiguration
    let checkpointWriter: CheckpointWriter
    let state: LiveState
    let metrics: ServiceMetrics
    let logger: Logger
    let consumer: KafkaConsumer
    let producer: KafkaProducer

    /// Next offset per input partition that the engine state reflects (last applied + 1).
    var positions: [KafkaTopicPartition: Int64]
    var deduplication: DeduplicationWindow
    /// Users whose recommendations are owed for events already applied.
    var pending: PendingRefreshes
    var checkpointSchedule: CheckpointSchedule
    var lastCheckpointWallMilliseconds: Int64
    var lastLagUpdate = ContinuousClock.now
    var brokersReachable = true
    /// Most events the next poll takes: grows while polls come back full (behind), back to the configured
    /// batch size once they do not, so a backlog is worked off in larger, better coalesced batches.
    var batchLimit: Int

    init(
        configuration: ServiceConfiguration, store: CheckpointStore, state: LiveState, metrics: ServiceMetrics,
        logger: Logger
    ) async throws {
        self.configuration = configuration
        self.checkpointWriter = CheckpointWriter(store: store)
        self.state = state
        self.metrics = metrics
        self.logger = logger

        // `--from earliest|TIME` rebuilds from topic history, so it starts from empty state.
        let checkpoint = configuration.kafka.startPosition == .committed ? try await store.load() : nil
        if let checkpoint {
            var engine = try RecommendationEngine(snapshot: checkpoint.engineSnapshot)
            // Recommend-time settings follow the configuration; those that shaped the state stay the checkpoint's.
            let kept = engine.adoptRecommendSettings(of: configuration.engine)
            if !kept.isEmpty {
                logger.warning(
                    "engine settings differ from the checkpoint's state; the checkpoint's are kept for these sections (to apply them, rebuild: an empty state directory and --from earliest)",
                    metadata: ["streamrec.engine_sections": "\(kept)"])
            }
            state.replaceEngine(engine)
            logger.info(
                "resuming from checkpoint",
                metadata: [
                    "streamrec.checkpoint": "\(store.path)",
                    "streamrec.offsets": Self.describe(checkpoint.nextOffsets),
                ])
        }
        positions = checkpoint?.nextOffsets ?? [:]
        deduplication = DeduplicationWindow(
            capacity: configuration.pipeline.deduplicationWindow, recent: checkpoint?.recentEventIDs ?? [])
        pending = PendingRefreshes(
            maxDelay: configuration.pipeline.coalesceMaxDelay, maxUsers: configuration.pipeline.coalesceMaxUsers,
            restoring: checkpoint?.pendingRefreshes ?? [], now: .now)
        lastCheckpointWallMilliseconds = checkpoint?.createdAtMilliseconds ?? Self.wallMilliseconds()
        batchLimit = configuration.pipeline.maxBatchEvents
        checkpointSchedule = CheckpointSchedule(interval: configuration.checkpoint.interval, start: .now)

        // The consumer's `auto.offset.reset` defaults to earliest: a new group skips nothing.
        let kafka = KafkaConfiguration(
            bootstrapServers: configuration.kafka.brokers, properties: configuration.kafka.properties)
        // Lag comes from librdkafka's statistics: querying watermarks per partition would block the loop.
        var consumerKafka = kafka
        consumerKafka.statisticsInterval = .seconds(1)
        // librdkafka's 500 ms would be added to every event → recommendation on a broker that holds an empty
        // fetch for the whole wait (the embedded one does); a real broker answers as soon as data arrives.
        if consumerKafka.properties["fetch.wait.max.ms"] == nil {
            consumerKafka.properties["fetch.wait.max.ms"] = StreamingPipeline.defaultFetchWaitMilliseconds
        }
        consumer = try KafkaConsumer(configuration: consumerKafka, groupID: configuration.kafka.group, logger: logger)
        producer = try KafkaProducer(
            configuration: StreamingPipeline.outputProducerConfiguration(kafka),
            inFlightLimit: configuration.pipeline.maxInFlightMessages, logger: logger)
        // Each partition starts where this state left it (see ``assigned(_:)``); the others at
        // `kafka.startPosition`, also given in the assignment (a seek after it races the committed offset).
        switch configuration.kafka.startPosition {
        case .committed:
            break
        case .earliest:
            logger.info("rebuilding state from the beginning of the topic")
            consumer.startOtherPartitionsAtBeginning()
        case .time(let milliseconds):
            let partitions = try await consumer.partitions(of: configuration.kafka.inputTopic)
            let offsets = try await consumer.offsetsForTimes(
                Dictionary(uniqueKeysWithValues: partitions.map { ($0, milliseconds) }))
            logger.info(
                "rebuilding state from a time",
                metadata: [
                    "streamrec.from_milliseconds": "\(milliseconds)",
                    "streamrec.offsets": Self.describe(offsets),
                ])
            consumer.setStartOffsets(offsets)
            // A partition added later holds only records newer than the time.
            consumer.startOtherPartitionsAtBeginning()
        }
        consumer.setStartOffsets(positions)
        try consumer.subscribe(topics: [configuration.kafka.inputTopic])
    }

    static func wallMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// Offsets for a log line: `["0:120", "1:98"]`, by partition.
    static func describe(_ offsets: [KafkaTopicPartition: Int64]) -> Logger.MetadataValue {
        "\(offsets.sorted { $0.key < $1.key }.map { "\($0.key.partition):\($0.value)" })"
    }

    mutating func consumeUntilShutdown() async throws {
        logger.info("consuming", metadata: ["streamrec.topic": "\(configuration.kafka.inputTopic)"])
        do {
            try await consumeBatches()
        } catch {
            // No checkpoint: the state may hold events whose output was not delivered. The restart resumes
            // from the last checkpoint instead.
            logger.error("pipeline failed", metadata: ["streamrec.error": "\(error)"])
            try? await consumer.close()
            await producer.close()
            throw error
        }
        try await shutdown()
    }

    mutating func consumeBatches() async throws {
        var refreshesDue = !pending.isEmpty
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let events: [KafkaConsumerEvent]
            do {
                // Owed refreshes are worked off between polls that do not wait.
                events = try await consumer.poll(
                    maxEvents: batchLimit, timeout: refreshesDue ? .zero : configuration.pipeline.pollTimeout)
            } catch let error as KafkaError where !error.isFatal {
                // Broker trouble is waited out: not ready, keep state, try again.
                state.setReady(false)
                logger.warning("poll failed; retrying", metadata: ["streamrec.error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            adaptBatchLimit(polled: events.count)
            let started = ContinuousClock.now
            try await handle(events)
            let refreshed = try await refreshDue(behind: isBehind(polled: events.count))
            refreshesDue = refreshed.moreDue
            if !events.isEmpty || refreshed.published > 0 {
                metrics.batchDuration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
            }
            try await waitWhileProducerIsFull()
            updateLagAndReadinessIfDue()
            if let finished = checkpointWriter.takeFinished() {
                // In the background: a commit blocks for seconds while the broker is away, and the loop would
                // stop updating readiness meanwhile; the next checkpoint commits again.
                try await commit(finished, partitions: consumer.assignment, waitingForBroker: false)
            }
            if !checkpointWriter.isBusy, checkpointSchedule.isDue(at: .now) {
                startCheckpoint(deliveryTimeout: Self.checkpointDeliveryTimeout)
            }
        }
    }

    /// Behind: the poll came back full, or at least a batch of records lay past what is applied when the
    /// broker last answered a fetch. A poll that is not full alone does not mean caught up: it only says
    /// that the fetcher had no more records yet, which under load happens in the middle of a backlog.
    func isBehind(polled: Int) -> Bool {
        let batch = configuration.pipeline.maxBatchEvents
        if polled >= batch { return true }
        var unread: Int64 = 0
        for partition in consumer.assignment {
            guard let next = positions[partition], let high = consumer.fetchedHighWatermark(partition) else { continue }
            unread += max(0, high - next)
        }
        return unread >= batch
    }

    /// Doubles the batch limit after a full poll, up to `maxBacklogBatchEvents`; back to the configured size
    /// after a poll that was not full.
    mutating func adaptBatchLimit(polled: Int) {
        let base = configuration.pipeline.maxBatchEvents
        batchLimit = polled >= batchLimit ? min(batchLimit * 2, max(base, configuration.pipeline.maxBacklogBatchEvents)) : base
    }

    /// Stop taking input; publish what is in flight; make the state durable; commit; leave the group.
    mutating func shutdown() async throws {
        logger.info("shutting down: flushing, checkpointing, committing")
        state.setReady(false)
        try await checkpointAndCommit(consumer.assignment, flushTimeout: .seconds(5))
        try await consumer.close()
        await producer.close()
        logger.info("stopped", metadata: ["streamrec.offsets": Self.describe(positions)])
    }

    // MARK: - One poll's events

    /// Records are gathered and processed as one batch; an assignment change first finishes the records
    /// before it, so a revoke checkpoints exactly what was applied.
    mutating func handle(_ events: [KafkaConsumerEvent]) async throws {
        var records: [KafkaRecord] = []
        records.reserveCapacity(events.count)
        for event in events {
            switch event {
            case .record(let record):
                records.append(record)
            case .partitionsAssigned(let partitions):
                try await process(records)
                records.removeAll(keepingCapacity: true)
                assigned(partitions)
            case .partitionsRevoked(let partitions):
                try await process(records)
                records.removeAll(keepingCapacity: true)
                logger.info("partitions revoked", metadata: ["streamrec.partitions": "\(partitions.map(\.partition))"])
                consumer.setStartOffsets(positions.filter { partitions.contains($0.key) })
                // Whoever reads these partitions next does not know what we owe for them.
                try await publishRefreshes(pending.take(partitions: partitions))
                try await checkpointAndCommit(partitions)
                if consumer.assignment.allSatisfy({ partitions.contains($0) }) { state.setReady(false) }
            }
        }
        try await process(records)
    }

    /// A partition this state has read before (the checkpoint's, or one revoked earlier) starts where the state
    /// left it: the consumer was given those offsets (`setStartOffsets`) and assigned the partition there. One that
    /// comes back after another member read it is so read again from there, and the state misses none of its
    /// events (each member keeps its own state). Any other partition starts at `kafka.startPosition`, set up the
    /// same way in ``init(configuration:store:state:metrics:logger:)``.
    func assigned(_ partitions: [KafkaTopicPartition]) {
        logger.info("partitions assigned", metadata: ["streamrec.partitions": "\(partitions.map(\.partition))"])
        state.setReady(true)
    }

    /// The heart of the pipeline: one batch of records through decode, dedup, apply; the touched users'
    /// refreshes are owed from here on (``refreshDue(behind:)`` publishes them).
    mutating func process(_ records: [KafkaRecord]) async throws {
        guard !records.isEmpty else { return }
        let applied = await Self.apply(
            records, positions: &positions, deduplication: &deduplication, pending: &pending, state: state,
            now: .now)
        let (userCount, itemCount) = state.withEngine { ($0.userCount, $0.itemCount) }
        metrics.pendingRefreshes.record(pending.count)

        for letter in applied.deadLetters {
            try await producer.enqueue(
                topic: configuration.kafka.deadLetterTopic, key: letter.key, value: letter.value, headers: letter.headers)
            logger.debug("dead letter", metadata: ["streamrec.reason": "\(DeadLetter.header(DeadLetter.reasonHeader, in: letter.headers) ?? "")"])
        }
        metrics.deadLetters.increment(by: Int64(applied.deadLetters.count))
        if applied.decodeErrors > 0 { metrics.decodeErrors.increment(by: Int64(applied.decodeErrors)) }
        if applied.duplicates > 0 { metrics.duplicates.increment(by: Int64(applied.duplicates)) }
        // Counted after the owed refreshes are visible in the metric, so a reader of /metrics that sees
        // every event consumed also sees what is still owed for them.
        for (type, count) in zip(EventType.allCases, applied.countsByType) where count > 0 {
            metrics.countEvent(type: type.rawValue, count: count)
        }
        metrics.users.record(userCount)
        metrics.items.record(itemCount)
    }

    /// What one batch did besides changing the state.
    struct AppliedBatch: Sendable {
        var deadLetters: [DeadLetter] = []
        /// By `EventType.ordinal`: a dictionary cost a hash per event.
        var countsByType = [Int](repeating: 0, count: EventType.allCases.count)
        var decodeErrors = 0
        var duplicates = 0
    }

    /// Most records per slice of the prepare stage. Each slice is a child task that wakes a pool thread, and on
    /// two busy cores that thread often shared the applying thread's core and took it first: with 512, the
    /// applying thread lost 0.2–0.7 ms of wall time per slice (0.5–1.4 s per 1M events in a backlog) to
    /// starting them; at 4096 a 16,000-record batch has 9 slices instead of 34 (docs/performance.md, "Session 10").
    static let prepareSliceRecords = 4096
    /// Records in a batch's first slice, which this thread prepares itself while it has nothing to apply;
    /// each slice after it is twice as large (up to `prepareSliceRecords`): preparing a record takes about
    /// half as long as applying one, so the apply stage seldom waits for the next slice.
    static let firstPrepareSliceRecords = 64

    /// Applies `records` to the state in two stages. The prepare stage (``BatchLedger``) takes the slices in
    /// order and alone decides, record by record, what is skipped (below the partition's position),
    /// dead-lettered, dropped as a duplicate, applied and owed a refresh: none of that depends on the
    /// engine. Each slice is prepared on another task while the events of the slice before it are applied
    /// here, so this thread, the one every event waits for, only applies. The outcome is that of applying
    /// the records one by one, whatever the slicing.
    static func apply(
        _ records: [KafkaRecord], positions: inout [KafkaTopicPartition: Int64],
        deduplication: inout DeduplicationWindow, pending: inout PendingRefreshes, state: LiveState,
        now: ContinuousClock.Instant, sliceRecords: Int = prepareSliceRecords
    ) async -> AppliedBatch {
        let ledger = BatchLedger(moving: &positions, &deduplication, &pending)
        @Sendable func prepare(_ range: Range<Int>) -> [Event] { ledger.prepare(records[range], now: now) }
        func applyEvents(_ events: inout [Event]) {
            // Each event is moved out for the engine and back, never copied: a copy would retain and release
            // every string of the event.
            events.withUnsafeMutableBufferPointer { events in
                for index in events.indices {
                    let event = events.moveElement(from: index)
                    // Applied here, under the lock for this event only: HTTP requests may read the state
                    // between two events of a batch.
                    state.withEngine { $0.apply(event) }
                    events.initializeElement(at: index, to: event)
                }
            }
        }

        var slice = 0..<min(firstPrepareSliceRecords, sliceRecords, records.count)
        var events = prepare(slice)
        while slice.upperBound < records.count {
            let nextSlice = slice.upperBound..<min(slice.upperBound + min(2 * slice.count, sliceRecords), records.count)
            async let preparingNext = prepare(nextSlice)
            applyEvents(&events)
            let applied = events
            events = await preparingNext
            // Released by the next prepare task: releasing each event's strings is work this thread need not do.
            ledger.retire(applied)
            slice = nextSlice
        }
        applyEvents(&events)
        return ledger.finish(into: &positions, &deduplication, &pending)
    }

    /// Publishes the refreshes that are due (see ``PendingRefreshes``), at most `max_backlog_batch_events`
    /// users at a time so polls go on during a large flush; `moreDue` when more are due right away.
    mutating func refreshDue(behind: Bool) async throws -> (published: Int, moreDue: Bool) {
        let now = ContinuousClock.now
        let due = pending.takeDue(behind: behind, now: now, limit: max(configuration.pipeline.maxBatchEvents, configuration.pipeline.maxBacklogBatchEvents))
        try await publishRefreshes(due)
        metrics.pendingRefreshes.record(pending.count)
        return (due.count, pending.dueCount(behind: behind, now: now) > 0)
    }

    /// Recommends for these users from the current state and publishes one message each.
    mutating func publishRefreshes(_ refreshes: [(userID: String, entry: PendingRefreshes.Entry)]) async throws {
        guard !refreshes.isEmpty else { return }
        // A copy (O(1): copy-on-write), gone before the next batch mutates the engine again.
        let engine = state.withEngine { $0 }
        // Sorted so output order does not depend on arrival order within the chunk.
        let sorted = refreshes.sorted { $0.userID < $1.userID }
        let generatedAt = Self.wallMilliseconds()
        let producer = producer
        let metrics = metrics
        let outputTopic = configuration.kafka.outputTopic
        try await Self.recommendationMessages(
            for: sorted.map { userID, entry in
                RecommendationMessage(
                    userID: userID, recommendations: [], eventTime: entry.eventTime, generatedAt: generatedAt,
                    source: entry.source)
            },
            engine: engine, k: configuration.pipeline.recommendationsPerUser, filters: state.filters
        ) { first, messages in
            for ((userID, entry), message) in zip(sorted[first...], messages) {
                try await producer.enqueue(topic: outputTopic, key: Array(userID.utf8), value: message)
                if let produced = entry.recordTimestamp {
                    metrics.eventToPublishLatency.recordMilliseconds(max(0, generatedAt - produced))
                }
            }
        }
        metrics.recommendationsPublished.increment(by: Int64(sorted.count))
        metrics.inFlightMessages.record(producer.inFlightCount)
    }

    /// Fewest users a parallel block of ``recommendationMessages(for:engine:k:filters:cores:inOrder:)`` gets.
    static let minimumUsersPerBlock = 32
    /// Most users in such a block: small enough that the cores never wait long for each other or for the
    /// caller handing out the blocks before, large enough that a task per block costs nothing.
    static let maximumUsersPerBlock = 256

    /// Fills in each message's recommendations and encodes it, on as many cores as there are, and hands the
    /// encoded messages to `deliver` in their order, a block at a time (`first`: the index of the block's
    /// first message), each exactly once. `recommend` only reads the engine value, so the blocks share it.
    ///
    /// The blocks are small and taken by whichever core is free, one more queued than there are cores, while
    /// the caller delivers the blocks before: a fixed slice per core left one core idle whenever the other's
    /// slice ran longer (it shares its core with the Kafka client threads and the checkpoint writer), and
    /// nothing was delivered until every slice was done (docs/performance.md, "Session 9").
    static func recommendationMessages(
        for messages: [RecommendationMessage], engine: RecommendationEngine, k: Int, filters: RecommendationFilters,
        cores: Int = ProcessInfo.processInfo.activeProcessorCount,
        inOrder deliver: (_ first: Int, _ encoded: [[UInt8]]) async throws -> Void
    ) async throws {
        @Sendable func encoded(_ range: Range<Int>) -> [[UInt8]] {
            let block = messages[range]
            let lists = engine.recommend(userIDs: block.map(\.userID), k: k, filters: filters)
            var encoder = RecommendationMessageEncoder()
            return zip(block, lists).map { message, list in encoder.encode(message, items: list) }
        }
        // Split only batches of several milliseconds' work (a recommendation takes ≈ 100–200 µs): a steady,
        // caught-up stream's batches of tens of users are faster end to end on one core, which leaves the other
        // to the Kafka client threads that carry the events in and the recommendations out (measured: p99 at
        // 5k events/s 51–62 ms on one core vs 65–95 ms split from 8 users, docs/performance.md).
        guard cores > 1, messages.count >= 2 * minimumUsersPerBlock else {
            if !messages.isEmpty { try await deliver(0, encoded(messages.indices)) }
            return
        }
        let blockUsers = min(maximumUsersPerBlock, max(minimumUsersPerBlock, messages.count / (4 * cores)))
        let blocks = stride(from: 0, to: messages.count, by: blockUsers).map { $0..<min($0 + blockUsers, messages.count) }
        try await withThrowingTaskGroup(of: (block: Int, encoded: [[UInt8]]).self) { group in
            var started = 0
            func startNext() {
                guard started < blocks.count else { return }
                let block = started
                group.addTask { (block, encoded(blocks[block])) }
                started += 1
            }
            for _ in 0...cores { startNext() }
            // Blocks finished before the one due next wait here.
            var done: [Int: [[UInt8]]] = [:]
            var due = 0
            while let (block, messages) = try await group.next() {
                startNext()
                done[block] = messages
                while let messages = done.removeValue(forKey: due) {
                    try await deliver(blocks[due].lowerBound, messages)
                    due += 1
                }
            }
        }
    }

    // MARK: - Backpressure, lag, checkpoints

    /// Pauses input while the producer window is three quarters full (a slow or absent broker), so memory
    /// stays bounded and the group still sees us poll; resumes once it has drained to a quarter.
    mutating func waitWhileProducerIsFull() async throws {
        metrics.inFlightMessages.record(producer.inFlightCount)
        guard producer.inFlightCount >= configuration.pipeline.maxInFlightMessages * 3 / 4 else { return }
        let paused = consumer.assignment
        try consumer.pause(paused)
        logger.warning("producer window full; input paused", metadata: ["streamrec.in_flight": "\(producer.inFlightCount)"])
        while producer.inFlightCount > configuration.pipeline.maxInFlightMessages / 4 {
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            do {
                try await producer.flush(timeout: .seconds(1))
            } catch let error as KafkaError where error.code == .timedOut {
                state.setReady(false)
                logger.warning("waiting for the broker to take output", metadata: ["streamrec.error": "\(error)"])
            }
        }
        try consumer.resume(paused)
        state.setReady(!paused.isEmpty)
    }

    mutating func updateLagAndReadinessIfDue() {
        let now = ContinuousClock.now
        guard now - lastLagUpdate >= .seconds(1) else { return }
        lastLagUpdate = now
        metrics.snapshotAge.record(Double(Self.wallMilliseconds() - lastCheckpointWallMilliseconds) / 1000)
        for (partition, lag) in consumer.latestStatistics?.consumerLag ?? [:] where lag >= 0 {
            metrics.recordLag(partition: partition.partition, messages: lag)
        }
        // Readiness follows librdkafka's own view of its broker connections (statistics, once a second):
        // asking a broker directly can block the loop for as long as the broker is gone.
        guard let statistics = consumer.latestStatistics else { return }
        let reachable = statistics.brokersUp > 0
        if reachable != brokersReachable {
            brokersReachable = reachable
            if reachable {
                logger.info("broker reachable again")
            } else {
                logger.warning("broker unreachable; waiting for it", metadata: ["streamrec.client": "\(statistics.clientName)"])
            }
        }
        state.setReady(reachable && !consumer.assignment.isEmpty)
    }

    /// How long a periodic checkpoint waits for the output enqueued before it (normally a few ms) before it
    /// is postponed; also bounds how long a shutdown waits for a checkpoint in progress.
    static let checkpointDeliveryTimeout: Duration = .seconds(5)

    /// Makes a checkpoint durable now and commits its offsets for `partitions` (revoke, shutdown): publishes
    /// everything in flight, waits for the write in progress, then checkpoints what is applied so far.
    /// Offsets are never committed past what a durable checkpoint holds.
    mutating func checkpointAndCommit(
        _ partitions: [KafkaTopicPartition], flushTimeout: Duration = .seconds(5)
    ) async throws {
        // Delivered first, so the write in progress (waiting for part of this output) ends at once too.
        var delivered = true
        do {
            try await producer.flush(timeout: flushTimeout)
        } catch let error as KafkaError where error.code == .timedOut {
            logger.warning("output not yet delivered; checkpoint postponed", metadata: ["streamrec.error": "\(error)"])
            delivered = false
        }
        if let finished = await checkpointWriter.waitForFinished() {
            try await commit(finished, partitions: partitions, waitingForBroker: true)
        }
        guard delivered else { return }
        startCheckpoint(deliveryTimeout: flushTimeout)
        if let finished = await checkpointWriter.waitForFinished() {
            try await commit(finished, partitions: partitions, waitingForBroker: true)
        }
    }

    /// Hands a checkpoint of the state to the writer; the loop goes on while it is encoded, while the
    /// output enqueued so far is delivered (a crash after the file is written must not lose the
    /// recommendations and dead letters of the events in it) and while it is written. Waiting for exactly
    /// that output, not flushing, keeps the loop and the output enqueued after it flowing.
    mutating func startCheckpoint(deliveryTimeout: Duration) {
        checkpointSchedule.started(at: .now)
        let mark = producer.markDelivery()
        let producer = producer
        checkpointWriter.start(
            engine: state.withEngine { $0 }, nextOffsets: positions, deduplication: deduplication,
            pendingRefreshes: pending.ordered, createdAtMilliseconds: Self.wallMilliseconds(),
            outputDelivered: { try producer.waitForDelivery(of: mark, timeout: deliveryTimeout) })
    }

    /// Once a checkpoint is durable: commits its offsets for `partitions`, `waitingForBroker` (revoke, shutdown:
    /// the group must hold them before the partitions go) or in the background. A failed write or a delivery
    /// failure ends the run (the restart resumes from the last good checkpoint and publishes again).
    mutating func commit(
        _ finished: Result<CheckpointWriter.Outcome, any Error>, partitions: [KafkaTopicPartition], waitingForBroker: Bool
    ) async throws {
        checkpointSchedule.finished(cpuTime: checkpointWriter.lastCPUTime)
        guard case .written(let written) = try finished.get() else {
            logger.warning("output not delivered in time; checkpoint postponed")
            return
        }
        lastCheckpointWallMilliseconds = written.createdAtMilliseconds
        metrics.checkpoints.increment()
        metrics.checkpointDuration.recordNanoseconds(written.duration.nanoseconds)
        metrics.snapshotAge.record(Double(Self.wallMilliseconds() - written.createdAtMilliseconds) / 1000)
        let offsets = written.nextOffsets.filter { partitions.contains($0.key) }
        guard !offsets.isEmpty else { return }
        do {
            if waitingForBroker {
                try await consumer.commit(offsets)
            } else {
                try consumer.commitInBackground(offsets)
            }
        } catch let error as KafkaError where !error.isFatal {
            // The checkpoint is the source of truth; the next checkpoint commits again.
            logger.warning("commit failed; will retry", metadata: ["streamrec.error": "\(error)"])
        }
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
