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

    /// A user id with its hash, computed once per event: the table then hashes an `Int` per probe and
    /// rehash instead of the id's bytes.
    struct UserKey: Hashable, Sendable {
        let userID: String
        let hash: Int

        init(_ userID: String) {
            self.userID = userID
            hash = userID.hashValue
        }

        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
        static func == (lhs: Self, rhs: Self) -> Bool { lhs.hash == rhs.hash && lhs.userID == rhs.userID }
    }

    /// One owed refresh, in line.
    struct Owed {
        var user: UserKey
        var entry: Entry
        /// When the user's refresh was first owed.
        var since: ContinuousClock.Instant
    }

    let maxDelay: Duration
    let maxUsers: Int
    /// Owed refreshes in line from `head` on; the taken slots before it are dropped once they are the larger part.
    private var line: [Owed] = []
    private var head = 0
    /// Slots dropped from the front of `line` so far: a user's place counts from the first slot ever, so
    /// dropping slots does not renumber the table.
    private var dropped = 0
    /// Each owed user's place in line, by open addressing with linear probing: a slot holds, in its high half,
    /// the low 31 bits of the user's hash (which include its home slot) with the top bit set (0: empty), in its
    /// low half the place modulo 2³² (exact: the line never holds 2³² entries). At most half full. (A
    /// `Dictionary<UserKey, Int>` cost a `Hasher` run and a probe of its keys and of its values per event: two
    /// cache misses at 100k users where this has one.)
    private var slots = [UInt64](repeating: 0, count: Self.minimumSlots)
    /// How many entries at the front a forced flush (delay, size cap, restore) still owes.
    private(set) var forced = 0

    /// The table's size when empty; small, so tests cover its growth.
    static let minimumSlots = 16

    init(maxDelay: Duration, maxUsers: Int) {
        self.maxDelay = maxDelay
        self.maxUsers = maxUsers
    }

    /// Entries restored from a checkpoint: all owed at once, whether or not the consumer is behind.
    init(maxDelay: Duration, maxUsers: Int, restoring restored: [(userID: String, entry: Entry)], now: ContinuousClock.Instant) {
        self.init(maxDelay: maxDelay, maxUsers: maxUsers)
        for (userID, entry) in restored { record(userID: userID, entry, now: now) }
        forced = count
    }

    var count: Int { line.count - head }
    var isEmpty: Bool { count == 0 }

    /// Entries in order, for a checkpoint.
    var ordered: [(userID: String, entry: Entry)] { line[head...].map { ($0.user.userID, $0.entry) } }

    /// The user's latest applied event; their place in line stays where their first owed refresh put it.
    mutating func record(_ user: UserKey, _ entry: Entry, now: ContinuousClock.Instant) {
        if 2 * (count + 1) > slots.count { rebuildSlots(count: 2 * slots.count) }
        let mask = slots.count - 1
        let tag = Self.tag(of: user.hash)
        var slot = user.hash & mask
        while slots[slot] != 0 {
            if slots[slot] & Self.tagBits == tag {
                let index = lineIndex(slots[slot])
                if line[index].user == user {
                    line[index].entry = entry
                    return
                }
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = tag | UInt64(UInt32(truncatingIfNeeded: dropped + line.count))
        line.append(Owed(user: user, entry: entry, since: now))
    }

    private static let tagBits: UInt64 = 0xFFFF_FFFF_0000_0000

    /// A slot's high half for a user's hash: set even for a hash of 0, so that no used slot reads as empty.
    private static func tag(of hash: Int) -> UInt64 {
        UInt64(UInt32(truncatingIfNeeded: hash) | 0x8000_0000) << 32
    }

    /// The index in `line` of the place a used slot holds.
    private func lineIndex(_ slot: UInt64) -> Int {
        Int(UInt32(truncatingIfNeeded: slot) &- UInt32(truncatingIfNeeded: dropped))
    }

    /// Removes the slot of the entry at `place`, shifting later entries of its probe run back so every entry
    /// stays reachable from its home slot (no tombstones).
    private mutating func removeSlot(place: Int, hash: Int) {
        let mask = slots.count - 1
        let low = UInt64(UInt32(truncatingIfNeeded: place))
        var hole = hash & mask
        while slots[hole] == 0 || slots[hole] & 0xFFFF_FFFF != low { hole = (hole + 1) & mask }
        slots.emptyProbedSlot(hole)
    }

    /// A table of `count` slots (a power of two, at least twice the entries) holding every entry from `head` on.
    private mutating func rebuildSlots(count: Int) {
        slots = [UInt64](repeating: 0, count: count)
        let mask = count - 1
        for index in head..<line.count {
            var slot = line[index].user.hash & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Self.tag(of: line[index].user.hash) | UInt64(UInt32(truncatingIfNeeded: dropped + index))
        }
    }

    mutating func record(userID: String, _ entry: Entry, now: ContinuousClock.Instant) {
        record(UserKey(userID), entry, now: now)
    }

    /// How many entries are due now: all of them once caught up; while behind, what a forced flush still
    /// owes, starting one when the oldest entry has waited `maxDelay` or the set is full.
    mutating func dueCount(behind: Bool, now: ContinuousClock.Instant) -> Int {
        guard behind else { return count }
        if forced == 0, head < line.count, now - line[head].since >= maxDelay || count >= maxUsers {
            forced = count
        }
        return forced
    }

    /// Removes and returns up to `limit` of the due entries, oldest first.
    mutating func takeDue(behind: Bool, now: ContinuousClock.Instant, limit: Int) -> [(userID: String, entry: Entry)] {
        let taken = min(dueCount(behind: behind, now: now), limit)
        guard taken > 0 else { return [] }
        let due = line[head..<head + taken]
        for index in due.indices { removeSlot(place: dropped + index, hash: line[index].user.hash) }
        let result = due.map { (userID: $0.user.userID, entry: $0.entry) }
        head += taken
        forced = max(0, forced - taken)
        if head == line.count || head > line.count / 2 {
            line.removeFirst(head)
            dropped += head
            head = 0
        }
        return result
    }

    /// Removes and returns every entry whose source is one of `partitions` (they are being revoked).
    mutating func take(partitions: [KafkaTopicPartition]) -> [(userID: String, entry: Entry)] {
        var taken: [(userID: String, entry: Entry)] = []
        var kept: [Owed] = []
        for owed in line[head...] {
            let key = KafkaTopicPartition(topic: owed.entry.source.topic, partition: owed.entry.source.partition)
            if partitions.contains(key) {
                taken.append((owed.user.userID, owed.entry))
            } else {
                kept.append(owed)
            }
        }
        line = kept
        head = 0
        dropped = 0
        var size = Self.minimumSlots
        while size < 2 * kept.count { size <<= 1 }
        rebuildSlots(count: size)
        forced = min(forced, count)
        return taken
    }
}
