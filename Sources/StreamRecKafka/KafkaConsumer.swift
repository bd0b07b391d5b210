import CRdKafka
import Dispatch
import Logging
import Synchronization

/// What ``KafkaConsumer/poll(maxEvents:timeout:)`` returns, in this order within one batch: assignments first
/// (records of the new partitions follow them), then records, then revocations.
public enum KafkaConsumerEvent: Sendable {
    case record(KafkaRecord)
    /// These partitions now belong to this consumer; records for them follow.
    case partitionsAssigned([KafkaTopicPartition])
    /// These partitions are taken away at the start of the next `poll()`. Until then they are still owned:
    /// commit the processed offsets and flush any state kept for them now.
    case partitionsRevoked([KafkaTopicPartition])
}

/// A consumer-group member over librdkafka that commits only what the caller says it has processed.
///
/// `enable.auto.commit` and `enable.auto.offset.store` are forced off: offsets move only through
/// ``commit(_:)``, so a crash replays unprocessed records instead of losing them. Other defaults:
/// ``defaultProperties``. The blocking poll and every other blocking librdkafka call run on this consumer's own dispatch
/// queues, never on Swift's cooperative pool; librdkafka's rebalance callback runs inside that poll.
public final class KafkaConsumer: Sendable {
    private let client: RDKafkaClient
    private let recorder: RDKafkaRebalanceRecorder
    private let consumerQueue: RDKafkaQueue
    private let configuration: KafkaConfiguration
    private let groupID: String
    /// Poll and close: the calls that serve the rebalance callback, one at a time.
    private let pollQueue = DispatchQueue(label: "streamrec.kafka.consumer.poll")
    /// Commits and broker queries; may overlap a waiting poll.
    private let blockingQueue = DispatchQueue(label: "streamrec.kafka.consumer.blocking", attributes: .concurrent)
    /// An assign-only handle that reads single records for the offsets-for-times search, made on first use.
    private let probe = Mutex<RDKafkaClient?>(nil)
    private let isClosed = Atomic<Bool>(false)
    /// Bounds each broker query (committed, watermarks, offsets for times).
    private let queryTimeoutMilliseconds: Int32 = 10_000

    /// librdkafka properties this consumer sets unless the configuration does.
    ///
    /// - `auto.offset.reset=earliest`: a new group starts at the oldest record.
    /// - `queued.min.messages=1000000`: librdkafka 2.0.2 stops fetching once its queue holds this many
    ///   messages and looks again only at its broker thread's next wake-up, up to 1 s later (newer versions have
    ///   `fetch.queue.backoff.ms` for this). At the default 100 000, a consumer faster than 100 000 records per
    ///   second idles for the rest of each such second; with the count raised, the prefetch is bounded by
    ///   `queued.max.messages.kbytes` (64 MB) instead.
    public static let defaultProperties: [String: String] = [
        "auto.offset.reset": "earliest",
        "queued.min.messages": "1000000",
    ]

    public init(configuration: KafkaConfiguration, groupID: String, logger: Logger) throws {
        self.configuration = configuration
        self.groupID = groupID
        let properties = configuration.librdkafkaProperties(
            defaults: Self.defaultProperties,
            overrides: ["group.id": groupID, "enable.auto.commit": "false", "enable.auto.offset.store": "false"])
        client = try RDKafkaClient.makeConsumer(properties: properties, logger: logger)
        recorder = client.context.rebalance!
        consumerQueue = client.consumerQueue()
    }

    public func subscribe(topics: [String]) throws {
        try checkOpen()
        try client.subscribe(topics: topics)
    }

    /// Returns up to `maxEvents` records (plus any rebalance events), waiting at most `timeout` for the first;
    /// an empty array means nothing arrived in time.
    ///
    /// Completes a revocation announced by the previous call before reading on. Call it again within
    /// `max.poll.interval.ms` (default 5 minutes), or the group considers this consumer dead.
    public func poll(maxEvents: Int, timeout: Duration) async throws -> [KafkaConsumerEvent] {
        try checkOpen()
        try client.checkFatal()
        let client = client
        let recorder = recorder
        let queue = consumerQueue
        return try await pollQueue.runBlocking {
            recorder.completePendingRevocation(client: client.handle, logger: client.context.logger)
            var events = client.consumeBatch(
                queue: queue, maxMessages: max(1, maxEvents), timeoutMilliseconds: Int32(timeout.milliseconds),
                shouldContinue: { !recorder.hasPendingRevocation }, element: KafkaConsumerEvent.record)
            var assigned: [KafkaConsumerEvent] = []
            for event in recorder.drainEvents() {
                switch event {
                case .assigned(let partitions): assigned.append(.partitionsAssigned(partitions))
                case .revoked(let partitions): events.append(.partitionsRevoked(partitions))
                }
            }
            // Rare (a rebalance): only then is the batch moved.
            if !assigned.isEmpty { events.insert(contentsOf: assigned, at: 0) }
            return events
        }
    }

    /// Commits synchronously. `offsets` are the NEXT offsets to read (last processed + 1), Kafka's convention.
    public func commit(_ offsets: [KafkaTopicPartition: Int64]) async throws {
        try checkOpen()
        guard !offsets.isEmpty else { return }
        let client = client
        try await blockingQueue.runBlocking { try client.commit(offsets) }
    }

    /// Commits without waiting for the broker, for a commit a later one supersedes: returns at once (also while
    /// the broker is away, where ``commit(_:)`` blocks for seconds); a failure is logged when a later
    /// ``poll(maxEvents:timeout:)`` hears of it. `offsets` are the next offsets to read, as for ``commit(_:)``.
    public func commitInBackground(_ offsets: [KafkaTopicPartition: Int64]) throws {
        try checkOpen()
        guard !offsets.isEmpty else { return }
        try client.commitInBackground(offsets, replyQueue: consumerQueue)
    }

    /// The group's committed offsets; partitions with none are absent.
    public func committed(_ partitions: [KafkaTopicPartition]) async throws -> [KafkaTopicPartition: Int64] {
        try checkOpen()
        let client = client
        let timeout = queryTimeoutMilliseconds
        return try await blockingQueue.runBlocking { try client.committed(partitions, timeoutMilliseconds: timeout) }
    }

    /// Stops fetching these partitions (backpressure); they stay assigned.
    public func pause(_ partitions: [KafkaTopicPartition]) throws {
        try checkOpen()
        try client.pause(partitions)
    }

    public func resume(_ partitions: [KafkaTopicPartition]) throws {
        try checkOpen()
        try client.resume(partitions)
    }

    /// Where these partitions start whenever they are next assigned, instead of the group's committed offset
    /// (later calls override a partition's offset). Applied in the assignment itself: a seek right after an
    /// assignment races librdkafka's lookup of the committed offset, which can win.
    public func setStartOffsets(_ offsets: [KafkaTopicPartition: Int64]) {
        recorder.setStartOffsets(offsets)
    }

    /// From now on, partitions that ``setStartOffsets(_:)`` gave no offset start at the beginning of their log
    /// whenever assigned, instead of at the group's committed offset (rebuilding state from topic history).
    public func startOtherPartitionsAtBeginning() {
        recorder.startOtherPartitionsAtBeginning()
    }

    /// The partitions of `topic` the cluster knows now; none when it does not exist.
    public func partitions(of topic: String) async throws -> [KafkaTopicPartition] {
        try checkOpen()
        let client = client
        let timeout = queryTimeoutMilliseconds
        let count = try await blockingQueue.runBlocking { try client.clusterMetadata(timeoutMilliseconds: timeout).partitionCounts[topic] ?? 0 }
        return (0..<count).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) }
    }

    /// For each partition, the first offset whose record timestamp is at or after the given milliseconds, or the
    /// high watermark when there is none.
    ///
    /// Asks the broker first and checks its answer against the records either side of it (two single-record
    /// reads). When the answer is wrong — librdkafka's mock cluster answers every timestamp with the end offset —
    /// falls back to a binary search over record timestamps (about log2(records) reads), which assumes
    /// timestamps do not decrease within the partition (true for LogAppendTime and for producers that stamp
    /// the current time).
    public func offsetsForTimes(_ timestamps: [KafkaTopicPartition: Int64]) async throws -> [KafkaTopicPartition: Int64] {
        try checkOpen()
        let client = client
        let timeout = queryTimeoutMilliseconds
        let probe = try probeClient()
        return try await blockingQueue.runBlocking {
            let brokerAnswers = try client.queryOffsetsForTimes(timestamps, timeoutMilliseconds: timeout)
            var result: [KafkaTopicPartition: Int64] = [:]
            for (partition, timestamp) in timestamps {
                let (low, high) = try client.queryWatermarks(partition, timeoutMilliseconds: timeout)
                let search = TimestampSearch(partition: partition, target: timestamp, low: low, high: high) { offset in
                    try probe.fetchRecord(partition, atOrAfter: offset, before: high, timeoutMilliseconds: timeout)
                }
                let answer = brokerAnswers[partition].map { $0 < 0 ? high : $0 } ?? high
                result[partition] = try search.isCorrect(answer) ? answer : search.binarySearch()
            }
            return result
        }
    }

    /// Low and high watermark (first offset kept, next offset to be written) of a partition.
    public func watermarks(_ partition: KafkaTopicPartition) async throws -> (low: Int64, high: Int64) {
        try checkOpen()
        let client = client
        let timeout = queryTimeoutMilliseconds
        return try await blockingQueue.runBlocking { try client.queryWatermarks(partition, timeoutMilliseconds: timeout) }
    }

    /// The partition's high watermark as of the last records fetched for it (nil before any fetch): what
    /// the broker held then, known without asking it, so the caller can tell how far behind it is on
    /// every poll.
    public func fetchedHighWatermark(_ partition: KafkaTopicPartition) -> Int64? {
        client.cachedHighWatermark(partition)
    }

    /// For each assigned partition: high watermark minus the committed offset (minus the low watermark when
    /// nothing is committed yet) — the records the group has not confirmed processing.
    public func lag() async throws -> [KafkaTopicPartition: Int64] {
        try checkOpen()
        let client = client
        let timeout = queryTimeoutMilliseconds
        let partitions = assignment
        return try await blockingQueue.runBlocking {
            let committed = try client.committed(partitions, timeoutMilliseconds: timeout)
            var lag: [KafkaTopicPartition: Int64] = [:]
            for partition in partitions {
                let (low, high) = try client.queryWatermarks(partition, timeoutMilliseconds: timeout)
                lag[partition] = max(0, high - max(committed[partition] ?? low, low))
            }
            return lag
        }
    }

    /// The partitions this consumer owns now (including ones revoked but not yet given up).
    public var assignment: [KafkaTopicPartition] { recorder.assignment }

    /// The statistics librdkafka reported last, when ``KafkaConfiguration/statisticsInterval`` is set.
    public var latestStatistics: KafkaStatistics? { client.context.latestStatistics }

    /// Leaves the group (the other members get the partitions at once) and stops fetching. Commit first:
    /// partitions revoked during close are given up without an event. Idempotent.
    public func close() async throws {
        guard !isClosed.exchange(true, ordering: .relaxed) else { return }
        let client = client
        let recorder = recorder
        try await pollQueue.runBlocking {
            recorder.beginClosing(client: client.handle, logger: client.context.logger)
            try client.closeConsumer()
        }
        client.context.markClosed()
    }

    private func checkOpen() throws {
        if isClosed.load(ordering: .relaxed) {
            throw KafkaError(code: .closed, reason: "consumer of group '\(groupID)' is closed")
        }
    }

    private func probeClient() throws -> RDKafkaClient {
        try probe.withLock { probe in
            if let probe { return probe }
            // Its own group id: it only assigns, never joins or commits, so the real group is untouched.
            let properties = configuration.librdkafkaProperties(
                overrides: [
                    "group.id": "\(groupID).offsets-for-times", "enable.auto.commit": "false",
                    "enable.partition.eof": "false",
                    // Each probe reads one record that is already there: do not wait for more.
                    "fetch.wait.max.ms": "5",
                ])
            let client = try RDKafkaClient.makeConsumer(properties: properties, logger: self.client.context.logger)
            probe = client
            return client
        }
    }
}

/// Finds the first offset whose timestamp is at or after `target` by reading single records.
struct TimestampSearch {
    var partition: KafkaTopicPartition
    var target: Int64
    var low: Int64
    var high: Int64
    /// The first record at or after an offset and before `high`, or nil when there is none.
    var fetch: (Int64) throws -> KafkaRecord?

    /// `answer` is right when the record before it is older than the target and the record at it is not.
    func isCorrect(_ answer: Int64) throws -> Bool {
        guard answer >= low, answer <= high else { return false }
        if answer < high {
            guard let record = try fetch(answer), record.offset == answer,
                (record.timestampMilliseconds ?? .max) >= target
            else { return false }
        }
        if answer > low {
            // A gap before `answer` cannot be judged from one read: leave it to the search.
            guard let previous = try fetch(answer - 1), previous.offset == answer - 1,
                (previous.timestampMilliseconds ?? .min) < target
            else { return false }
        }
        return true
    }

    func binarySearch() throws -> Int64 {
        var lower = low
        var upper = high
        while lower < upper {
            let middle = lower + (upper - lower) / 2
            // Offsets may have gaps (transaction markers): judge by the first record at or after `middle`.
            guard let record = try fetch(middle) else {
                upper = middle
                continue
            }
            if (record.timestampMilliseconds ?? .max) >= target {
                upper = middle
            } else {
                lower = record.offset + 1
            }
        }
        // `lower` may sit in a gap: the answer is the record that follows it.
        return try fetch(lower)?.offset ?? high
    }
}
