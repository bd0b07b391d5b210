import Foundation
import Logging
import ServiceLifecycle
import StreamRecEngine
import StreamRecKafka

/// The whole service loop, one batch at a time:
///
///     poll → decode (bad → dead-letter topic) → drop duplicate event_ids → apply to the engine
///          → recommend once per user touched in the batch → publish → (every interval) checkpoint + commit
///
/// Restart safety: the engine snapshot, the offsets it reflects and the dedup window are written together
/// (``CheckpointStore``) and only then are those offsets committed to Kafka. On start the checkpoint is
/// loaded and every partition resumes at exactly its offset; records below it are skipped, so a crash at
/// any point applies each event to the state once. Output may repeat after a crash (same key, newer value).
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

    public func run() async throws {
        let store = CheckpointStore(directory: configuration.checkpoint.stateDirectory)
        var run = try await PipelineRun(
            configuration: configuration, store: store, state: state, metrics: metrics, logger: logger)
        try await run.consumeUntilShutdown()
    }
}

/// The mutable state of one `run()`; a struct owned by the loop, so nothing here needs a lock.
struct PipelineRun {
    let configuration: ServiceConfiguration
    let store: CheckpointStore
    let state: LiveState
    let metrics: ServiceMetrics
    let logger: Logger
    let consumer: KafkaConsumer
    let producer: KafkaProducer

    /// Next offset per input partition that the engine state reflects (last applied + 1).
    var positions: [KafkaTopicPartition: Int64]
    /// Positions loaded from the checkpoint: partitions seek there when assigned.
    let resumePositions: [KafkaTopicPartition: Int64]
    var deduplication: DeduplicationWindow
    var lastCheckpoint = ContinuousClock.now
    var lastCheckpointWallMilliseconds: Int64
    var lastLagUpdate = ContinuousClock.now
    var lastBrokerProbe = ContinuousClock.now
    var isPaused = false

    init(
        configuration: ServiceConfiguration, store: CheckpointStore, state: LiveState, metrics: ServiceMetrics,
        logger: Logger
    ) async throws {
        self.configuration = configuration
        self.store = store
        self.state = state
        self.metrics = metrics
        self.logger = logger

        // `--from earliest|TIME` rebuilds from topic history, so it starts from empty state.
        let checkpoint = configuration.kafka.startPosition == .committed ? try await store.load() : nil
        if let checkpoint {
            state.replaceEngine(try RecommendationEngine(snapshot: checkpoint.engineSnapshot))
            logger.info(
                "resuming from checkpoint",
                metadata: [
                    "streamrec.checkpoint": "\(store.path)",
                    "streamrec.offsets": "\(checkpoint.nextOffsets.sorted { $0.key < $1.key }.map { "\($0.key.partition):\($0.value)" })",
                ])
        }
        positions = checkpoint?.nextOffsets ?? [:]
        resumePositions = positions
        deduplication = DeduplicationWindow(
            capacity: configuration.pipeline.deduplicationWindow, recent: checkpoint?.recentEventIDs ?? [])
        lastCheckpointWallMilliseconds = checkpoint?.createdAtMilliseconds ?? Self.wallMilliseconds()

        // The consumer's `auto.offset.reset` defaults to earliest: a new group skips nothing.
        let kafka = KafkaConfiguration(
            bootstrapServers: configuration.kafka.brokers, properties: configuration.kafka.properties)
        // Lag comes from librdkafka's statistics: querying watermarks per partition would block the loop.
        var consumerKafka = kafka
        consumerKafka.statisticsInterval = .seconds(1)
        consumer = try KafkaConsumer(configuration: consumerKafka, groupID: configuration.kafka.group, logger: logger)
        producer = try KafkaProducer(
            configuration: kafka, inFlightLimit: configuration.pipeline.maxInFlightMessages, logger: logger)
        try consumer.subscribe(topics: [configuration.kafka.inputTopic])
    }

    static func wallMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

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
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let events: [KafkaConsumerEvent]
            do {
                events = try await consumer.poll(
                    maxEvents: configuration.pipeline.maxBatchEvents, timeout: configuration.pipeline.pollTimeout)
            } catch let error as KafkaError where !error.isFatal {
                // Broker trouble is waited out: not ready, keep state, try again.
                state.setReady(false)
                logger.warning("poll failed; retrying", metadata: ["streamrec.error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            try await handle(events)
            try await waitWhileProducerIsFull()
            try await updateLagIfDue()
            if ContinuousClock.now - lastCheckpoint >= configuration.checkpoint.interval {
                try await checkpointAndCommit(consumer.assignment)
            }
        }
    }

    /// Stop taking input; publish what is in flight; make the state durable; commit; leave the group.
    mutating func shutdown() async throws {
        logger.info("shutting down: flushing, checkpointing, committing")
        state.setReady(false)
        try await checkpointAndCommit(consumer.assignment, flushTimeout: .seconds(5))
        try await consumer.close()
        await producer.close()
        logger.info("stopped", metadata: ["streamrec.offsets": "\(positions.sorted { $0.key < $1.key }.map { "\($0.key.partition):\($0.value)" })"])
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
                try await assigned(partitions)
            case .partitionsRevoked(let partitions):
                try await process(records)
                records.removeAll(keepingCapacity: true)
                logger.info("partitions revoked", metadata: ["streamrec.partitions": "\(partitions.map(\.partition))"])
                try await checkpointAndCommit(partitions)
                if consumer.assignment.allSatisfy({ partitions.contains($0) }) { state.setReady(false) }
            }
        }
        try await process(records)
    }

    mutating func assigned(_ partitions: [KafkaTopicPartition]) async throws {
        logger.info("partitions assigned", metadata: ["streamrec.partitions": "\(partitions.map(\.partition))"])
        for partition in partitions {
            if let offset = resumePositions[partition] {
                try await consumer.seek(partition, to: offset)
                continue
            }
            switch configuration.kafka.startPosition {
            case .committed:
                break
            case .earliest:
                let (low, _) = try await consumer.watermarks(partition)
                try await consumer.seek(partition, to: low)
            case .time(let milliseconds):
                if let offset = try await consumer.offsetsForTimes([partition: milliseconds])[partition] {
                    try await consumer.seek(partition, to: offset)
                }
            }
        }
        state.setReady(true)
    }

    /// The heart of the pipeline: one batch of records through decode, dedup, apply, recommend, publish.
    mutating func process(_ records: [KafkaRecord]) async throws {
        guard !records.isEmpty else { return }
        let started = ContinuousClock.now
        var accepted: [(event: Event, record: KafkaRecord)] = []
        accepted.reserveCapacity(records.count)
        var deadLetters: [DeadLetter] = []

        for record in records {
            let partition = KafkaTopicPartition(topic: record.topic, partition: record.partition)
            // Already in the state: re-read after a restart from an older committed offset.
            if let next = positions[partition], record.offset < next { continue }
            positions[partition] = record.offset + 1
            guard let value = record.value else {
                deadLetters.append(DeadLetter(rejecting: record, reason: "null value (tombstone)", field: nil))
                continue
            }
            let event: Event
            do {
                event = try EventDecoder.decode(value)
            } catch {
                metrics.decodeErrors.increment()
                deadLetters.append(DeadLetter(rejecting: record, reason: error.description, field: error.field))
                continue
            }
            if let eventID = event.eventID, !deduplication.insert(eventID) {
                metrics.duplicates.increment()
                continue
            }
            metrics.countEvent(type: event.type.rawValue)
            accepted.append((event, record))
        }

        // The user's last event in the batch is the source of their new recommendations.
        var latestByUser: [String: (event: Event, record: KafkaRecord)] = [:]
        for entry in accepted {
            if let userID = entry.event.userID { latestByUser[userID] = entry }
        }
        let k = configuration.pipeline.recommendationsPerUser
        let filters = state.filters
        let (recommendations, userCount, itemCount) = state.withEngine { engine in
            for entry in accepted { engine.apply(entry.event) }
            // Sorted so output order does not depend on dictionary order.
            let recommendations = latestByUser.keys.sorted().map { userID in
                (userID, engine.recommend(userID: userID, k: k, filters: filters))
            }
            return (recommendations, engine.userCount, engine.itemCount)
        }

        let generatedAt = Self.wallMilliseconds()
        for (userID, items) in recommendations {
            let (event, record) = latestByUser[userID]!
            let message = RecommendationMessage(
                userID: userID, recommendations: items, eventTime: event.timestampMilliseconds,
                generatedAt: generatedAt,
                source: .init(topic: record.topic, partition: record.partition, offset: record.offset))
            try await producer.enqueue(
                topic: configuration.kafka.outputTopic, key: Array(userID.utf8), value: message.encoded())
            if let produced = record.timestampMilliseconds {
                metrics.eventToPublishLatency.recordMilliseconds(max(0, generatedAt - produced))
            }
        }
        metrics.recommendationsPublished.increment(by: Int64(recommendations.count))
        for letter in deadLetters {
            try await producer.enqueue(
                topic: configuration.kafka.deadLetterTopic, key: letter.key, value: letter.value, headers: letter.headers)
            logger.debug("dead letter", metadata: ["streamrec.reason": "\(DeadLetter.header(DeadLetter.reasonHeader, in: letter.headers) ?? "")"])
        }
        metrics.deadLetters.increment(by: Int64(deadLetters.count))
        metrics.users.record(userCount)
        metrics.items.record(itemCount)
        let elapsed = (ContinuousClock.now - started).components
        metrics.batchDuration.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
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

    mutating func updateLagIfDue() async throws {
        let now = ContinuousClock.now
        guard now - lastLagUpdate >= .seconds(1) else { return }
        lastLagUpdate = now
        metrics.snapshotAge.record(Double(Self.wallMilliseconds() - lastCheckpointWallMilliseconds) / 1000)
        for (partition, lag) in consumer.latestStatistics?.consumerLag ?? [:] where lag >= 0 {
            metrics.recordLag(partition: partition.partition, messages: lag)
        }
        // One broker round trip every 5 s tells whether the broker answers.
        guard now - lastBrokerProbe >= .seconds(5), let probe = consumer.assignment.first else { return }
        lastBrokerProbe = now
        do {
            _ = try await consumer.watermarks(probe)
            state.setReady(true)
        } catch let error as KafkaError where !error.isFatal {
            // The broker does not answer: say so on /readyz and keep going.
            state.setReady(false)
            logger.warning("broker unreachable", metadata: ["streamrec.error": "\(error)"])
        }
    }

    /// Publishes everything in flight, writes the checkpoint, then commits its offsets for `partitions`.
    /// Offsets are never committed past what a durable checkpoint holds.
    mutating func checkpointAndCommit(
        _ partitions: [KafkaTopicPartition], flushTimeout: Duration = .seconds(5)
    ) async throws {
        lastCheckpoint = ContinuousClock.now
        // Output for the events in this checkpoint must be delivered first, or a crash after the commit
        // would lose their recommendations and dead letters. A delivery failure (not a timeout) ends the
        // run without checkpointing: the restart replays from the last checkpoint and publishes again.
        do {
            try await producer.flush(timeout: flushTimeout)
        } catch let error as KafkaError where error.code == .timedOut {
            logger.warning("output not yet delivered; checkpoint postponed", metadata: ["streamrec.error": "\(error)"])
            return
        }
        let snapshot = state.withEngine { $0.snapshot() }
        let now = Self.wallMilliseconds()
        try await store.save(Checkpoint(
            nextOffsets: positions, recentEventIDs: deduplication.recent, engineSnapshot: snapshot,
            createdAtMilliseconds: now))
        lastCheckpointWallMilliseconds = now
        metrics.checkpoints.increment()
        metrics.snapshotAge.record(0)
        let offsets = positions.filter { partitions.contains($0.key) }
        guard !offsets.isEmpty else { return }
        do {
            try await consumer.commit(offsets)
        } catch let error as KafkaError where !error.isFatal {
            // The checkpoint is the source of truth; the next checkpoint commits again.
            logger.warning("commit failed; will retry", metadata: ["streamrec.error": "\(error)"])
        }
    }
}
