import OrderedCollections
import StreamRecKafka

/// Users whose recommendations are owed while the consumer is behind, like Kafka Streams' record cache:
/// every event is applied at once, but a user's refresh waits, so one recommendation covers all of their
/// events in the backlog. A recommendation computed while later events of the same user are still unread
/// would be stale on arrival, so coalescing only drops work whose result nobody would keep.
///
/// Oldest first: a user keeps their place (and age) when a later event updates their entry. Refreshes are
/// due when the consumer has caught up (everything), or, while behind, once the oldest entry has waited
/// `maxDelay` or the set holds `maxUsers` (then everything pending at that moment: a forced flush). The
/// pipeline refreshes the due entries a chunk at a time between polls.
struct PendingRefreshes {
    /// What a user's refresh publishes besides the recommendations: their latest applied event.
    struct Entry: Sendable, Equatable {
        var source: RecommendationMessage.Source
        var eventTime: Int64
        /// The input record's timestamp, for the event → publish latency metric.
        var recordTimestamp: Int64?
    }

    /// A user id with its hash, computed once by the pipeline's decode stage (off the thread that applies):
    /// the table then hashes an `Int` per event instead of the id's bytes.
    struct UserKey: Hashable, Sendable {
        let userID: String
        let hash: Int

        init(_ userID: String, hash: Int) {
            self.userID = userID
            self.hash = hash
        }

        init(_ userID: String) { self.init(userID, hash: userID.hashValue) }

        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
        static func == (lhs: Self, rhs: Self) -> Bool { lhs.hash == rhs.hash && lhs.userID == rhs.userID }
    }

    let maxDelay: Duration
    let maxUsers: Int
    private(set) var entries: OrderedDictionary<UserKey, Entry> = [:]
    /// When each entry was first owed (same order as `entries`).
    private var owedSince: [ContinuousClock.Instant] = []
    /// How many entries at the front a forced flush (delay, size cap, restore) still owes.
    private(set) var forced = 0

    init(maxDelay: Duration, maxUsers: Int) {
        self.maxDelay = maxDelay
        self.maxUsers = maxUsers
    }

    /// Entries restored from a checkpoint: all owed at once, whether or not the consumer is behind.
    init(maxDelay: Duration, maxUsers: Int, restoring restored: [(userID: String, entry: Entry)], now: ContinuousClock.Instant) {
        self.init(maxDelay: maxDelay, maxUsers: maxUsers)
        for (userID, entry) in restored { record(userID: userID, entry, now: now) }
        forced = entries.count
    }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Entries in order, for a checkpoint.
    var ordered: [(userID: String, entry: Entry)] { entries.map { ($0.key.userID, $0.value) } }

    /// The user's latest applied event; their place in line stays where their first owed refresh put it.
    mutating func record(_ user: UserKey, _ entry: Entry, now: ContinuousClock.Instant) {
        if entries.updateValue(entry, forKey: user) == nil { owedSince.append(now) }
    }

    mutating func record(userID: String, _ entry: Entry, now: ContinuousClock.Instant) {
        record(UserKey(userID), entry, now: now)
    }

    /// How many entries are due now: all of them once caught up; while behind, what a forced flush still
    /// owes, starting one when the oldest entry has waited `maxDelay` or the set is full.
    mutating func dueCount(behind: Bool, now: ContinuousClock.Instant) -> Int {
        guard behind else { return entries.count }
        if forced == 0, let oldest = owedSince.first, now - oldest >= maxDelay || entries.count >= maxUsers {
            forced = entries.count
        }
        return forced
    }

    /// Removes and returns up to `limit` of the due entries, oldest first.
    mutating func takeDue(behind: Bool, now: ContinuousClock.Instant, limit: Int) -> [(userID: String, entry: Entry)] {
        let taken = min(dueCount(behind: behind, now: now), limit)
        guard taken > 0 else { return [] }
        let due = entries.elements.prefix(taken).map { (userID: $0.key.userID, entry: $0.value) }
        entries.removeFirst(taken)
        owedSince.removeFirst(taken)
        forced = max(0, forced - taken)
        return due
    }

    /// Removes and returns every entry whose source is one of `partitions` (they are being revoked).
    mutating func take(partitions: [KafkaTopicPartition]) -> [(userID: String, entry: Entry)] {
        var taken: [(userID: String, entry: Entry)] = []
        var keptEntries: OrderedDictionary<UserKey, Entry> = [:]
        var keptSince: [ContinuousClock.Instant] = []
        for (index, element) in entries.elements.enumerated() {
            let key = KafkaTopicPartition(topic: element.value.source.topic, partition: element.value.source.partition)
            if partitions.contains(key) {
                taken.append((element.key.userID, element.value))
            } else {
                keptEntries[element.key] = element.value
                keptSince.append(owedSince[index])
            }
        }
        entries = keptEntries
        owedSince = keptSince
        forced = min(forced, entries.count)
        return taken
    }
}
