import StreamRecEngine
import StreamRecKafka
import Testing
@testable import StreamRecService

@Suite struct PendingRefreshesTests {
    static let start = ContinuousClock.now

    static func entry(offset: Int64, partition: Int32 = 0) -> PendingRefreshes.Entry {
        .init(source: .init(topic: "events", partition: partition, offset: offset), eventTime: 1000 + offset, recordTimestamp: offset)
    }

    /// Records a batch: user `users[i]` had the event at `offsets[i]`.
    static func record(_ pending: inout PendingRefreshes, _ events: [(user: String, offset: Int64)], at seconds: Int64) {
        for (user, offset) in events { pending.record(userID: user, entry(offset: offset), now: start + .seconds(seconds)) }
    }

    @Test func caughtUpEveryBatchIsRefreshedAtOnceFromEachUsersLastEvent() {
        var pending = PendingRefreshes(maxDelay: .seconds(30), maxUsers: 1000)
        Self.record(&pending, [("a", 0), ("b", 1), ("a", 2)], at: 0)
        let first = pending.takeDue(behind: false, now: Self.start, limit: 16_000)
        #expect(first.map(\.userID) == ["a", "b"])
        #expect(first.map(\.entry.source.offset) == [2, 1])
        #expect(pending.isEmpty)
        Self.record(&pending, [("b", 3)], at: 0)
        #expect(pending.takeDue(behind: false, now: Self.start, limit: 16_000).map(\.entry.source.offset) == [3])
    }

    @Test func behindRefreshesWaitAndCoalesceUntilCaughtUp() {
        var pending = PendingRefreshes(maxDelay: .seconds(30), maxUsers: 1000)
        var offset: Int64 = 0
        for second in 0..<10 {
            for user in ["a", "b", "c"] {
                Self.record(&pending, [(user, offset)], at: Int64(second))
                offset += 1
            }
            #expect(pending.takeDue(behind: true, now: Self.start + .seconds(second), limit: 16_000).isEmpty)
        }
        #expect(pending.count == 3)
        let due = pending.takeDue(behind: false, now: Self.start + .seconds(10), limit: 16_000)
        // One refresh per user, each from their last event.
        #expect(due.map(\.userID) == ["a", "b", "c"])
        #expect(due.map(\.entry.source.offset) == [27, 28, 29])
        #expect(due.map(\.entry.eventTime) == [1027, 1028, 1029])
    }

    @Test func behindTheOldestWaitingMaxDelayFlushesWhatIsPendingThenInChunks() {
        var pending = PendingRefreshes(maxDelay: .seconds(5), maxUsers: 1000)
        Self.record(&pending, [("a", 0), ("b", 1), ("c", 2)], at: 0)
        Self.record(&pending, [("a", 3)], at: 4)
        #expect(pending.takeDue(behind: true, now: Self.start + .seconds(4), limit: 16_000).isEmpty)
        // "a" keeps its place and age although its entry is newer.
        let firstChunk = pending.takeDue(behind: true, now: Self.start + .seconds(5), limit: 2)
        #expect(firstChunk.map(\.userID) == ["a", "b"])
        #expect(firstChunk.map(\.entry.source.offset) == [3, 1])
        // A user arriving after the flush started waits for the next one.
        Self.record(&pending, [("d", 4)], at: 5)
        #expect(pending.takeDue(behind: true, now: Self.start + .seconds(5), limit: 2).map(\.userID) == ["c"])
        #expect(pending.takeDue(behind: true, now: Self.start + .seconds(6), limit: 2).isEmpty)
        #expect(pending.takeDue(behind: true, now: Self.start + .seconds(10), limit: 2).map(\.userID) == ["d"])
    }

    @Test func behindReachingMaxUsersFlushesThem() {
        var pending = PendingRefreshes(maxDelay: .seconds(3600), maxUsers: 3)
        Self.record(&pending, [("a", 0), ("b", 1)], at: 0)
        #expect(pending.takeDue(behind: true, now: Self.start, limit: 16_000).isEmpty)
        Self.record(&pending, [("c", 2)], at: 0)
        #expect(pending.takeDue(behind: true, now: Self.start, limit: 16_000).map(\.userID) == ["a", "b", "c"])
    }

    @Test func zeroMaxDelayRefreshesEveryBatchEvenWhenBehind() {
        var pending = PendingRefreshes(maxDelay: .zero, maxUsers: 1000)
        Self.record(&pending, [("a", 0), ("b", 1)], at: 0)
        #expect(pending.takeDue(behind: true, now: Self.start, limit: 16_000).map(\.userID) == ["a", "b"])
    }

    @Test func restoredRefreshesAreDueAtOnceEvenWhenBehind() {
        var pending = PendingRefreshes(
            maxDelay: .seconds(3600), maxUsers: 1000,
            restoring: [("a", Self.entry(offset: 5)), ("b", Self.entry(offset: 9))], now: Self.start)
        Self.record(&pending, [("c", 10)], at: 0)
        let due = pending.takeDue(behind: true, now: Self.start, limit: 16_000)
        #expect(due.map(\.userID) == ["a", "b"])
        #expect(due.map(\.entry.source.offset) == [5, 9])
        #expect(pending.ordered.map(\.userID) == ["c"])
    }

    @Test func revokedPartitionsTakeTheirEntries() {
        var pending = PendingRefreshes(maxDelay: .seconds(3600), maxUsers: 1000)
        for (user, partition) in [("a", Int32(0)), ("b", 1), ("c", 0)] {
            pending.record(userID: user, Self.entry(offset: 1, partition: partition), now: Self.start)
        }
        let taken = pending.take(partitions: [KafkaTopicPartition(topic: "events", partition: 0)])
        #expect(taken.map(\.userID) == ["a", "c"])
        #expect(pending.ordered.map(\.userID) == ["b"])
    }

    /// Random records, takes and revocations against a plain list with the documented rules: the order,
    /// entries and what is due stay identical, also across the queue's periodic compaction and (with more
    /// users) the growth of its table.
    @Test(arguments: [60, 3_000]) func matchesAPlainListOverRandomOperations(users: Int) {
        struct Model {
            var owed: [(userID: String, entry: PendingRefreshes.Entry, since: Int64)] = []
            var forced = 0
        }
        var random = SplitMix64(seed: 11)
        let maxUsers = users * 2 / 3
        var pending = PendingRefreshes(maxDelay: .seconds(7), maxUsers: maxUsers)
        var model = Model()
        var offset: Int64 = 0
        for step in 0..<20_000 {
            let second = Int64(step / 50)
            let now = Self.start + .seconds(second)
            switch random.next() % 10 {
            case 0..<6:
                let user = "u\(random.next() % UInt64(users))"
                let entry = Self.entry(offset: offset, partition: Int32(random.next() % 3))
                offset += 1
                pending.record(userID: user, entry, now: now)
                if let index = model.owed.firstIndex(where: { $0.userID == user }) {
                    model.owed[index].entry = entry
                } else {
                    model.owed.append((user, entry, second))
                }
            case 6..<9:
                let behind = random.next() % 2 == 0
                let limit = 1 + Int(random.next() % 20)
                var due = model.owed.count
                if behind {
                    if model.forced == 0, let oldest = model.owed.first, second - oldest.since >= 7 || model.owed.count >= maxUsers {
                        model.forced = model.owed.count
                    }
                    due = model.forced
                }
                let taken = min(due, limit)
                let expected = model.owed.prefix(taken)
                let actual = pending.takeDue(behind: behind, now: now, limit: limit)
                #expect(actual.map(\.userID) == expected.map(\.userID), "step \(step)")
                #expect(actual.map(\.entry) == expected.map(\.entry), "step \(step)")
                model.owed.removeFirst(taken)
                model.forced = max(0, model.forced - taken)
            default:
                let revoked = KafkaTopicPartition(topic: "events", partition: Int32(random.next() % 3))
                let expected = model.owed.filter { $0.entry.source.partition == revoked.partition }
                #expect(pending.take(partitions: [revoked]).map(\.userID) == expected.map(\.userID), "step \(step)")
                model.owed.removeAll { $0.entry.source.partition == revoked.partition }
                model.forced = min(model.forced, model.owed.count)
            }
            #expect(pending.count == model.owed.count)
            if step % 100 == 0 {
                #expect(pending.ordered.map(\.userID) == model.owed.map(\.userID), "step \(step)")
                #expect(pending.ordered.map(\.entry) == model.owed.map(\.entry), "step \(step)")
            }
        }
    }
}
