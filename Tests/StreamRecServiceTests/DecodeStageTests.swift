import StreamRecEngine
import StreamRecKafka
import Testing
@testable import StreamRecService

/// `PipelineRun.apply`, the batch's prepare stage (decode, skip, dead-letter, dedup, owed refreshes: slices
/// on another task) and apply stage, against applying the records one by one.
@Suite struct DecodeStageTests {
    static let topic = "events"

    /// A batch as a consumer sees it after a restart: runs of three partitions, interleaved, starting below
    /// the checkpoint's positions; malformed values, tombstones and repeated event ids among them.
    static func batch() -> (records: [KafkaRecord], positions: [KafkaTopicPartition: Int64]) {
        var random = SplitMix64(seed: 11)
        let positions = [
            KafkaTopicPartition(topic: topic, partition: 0): Int64(4), KafkaTopicPartition(topic: topic, partition: 2): 9,
        ]
        var nextOffset: [Int32: Int64] = [0: 0, 1: 0, 2: 3]
        var records: [KafkaRecord] = []
        var serial = 0
        while records.count < 1_500 {
            let partition = Int32(random.next() % 3)
            for _ in 0..<(1 + random.next() % 40) {
                let offset = nextOffset[partition]!
                nextOffset[partition] = offset + 1
                serial += 1
                let value: [UInt8]?
                let isApplied = offset < positions[KafkaTopicPartition(topic: topic, partition: partition), default: 0]
                switch isApplied && offset % 2 == 0 ? 0 : random.next() % 20 {
                case 0: value = Array("{\"type\":\"click\",".utf8)
                case 1: value = nil
                case 2, 3: value = eventJSON(id: "e\(serial - Int(random.next() % 8))", type: "view", user: "u\(random.next() % 50)", item: "i\(random.next() % 30)", timestamp: Int64(serial))
                default:
                    value = eventJSON(id: "e\(serial)", type: random.next() % 3 == 0 ? "search" : "click", user: "u\(random.next() % 50)", item: "i\(random.next() % 30)", query: "q\(random.next() % 5)", timestamp: Int64(serial))
                }
                records.append(KafkaRecord(topic: topic, partition: partition, offset: offset, key: nil, value: value, timestampMilliseconds: Int64(serial)))
            }
        }
        return (records, positions)
    }

    struct Outcome: Equatable {
        var snapshot: [UInt8]
        var positions: [KafkaTopicPartition: Int64]
        var deadLetterOffsets: [Int64]
        var deadLetterReasons: [String]
        var recentEventIDs: [String]
        var owed: [String]
        var owedOffsets: [Int64]
        var countsByType: [Int]
        var decodeErrors: Int
        var duplicates: Int
    }

    /// The plain model: one record at a time, each step as the pipeline documents it.
    static func oneByOne(_ records: [KafkaRecord], from start: [KafkaTopicPartition: Int64]) -> Outcome {
        var positions = start
        var engine = RecommendationEngine()
        var window = DeduplicationWindow(capacity: 64)
        var pending = PendingRefreshes(maxDelay: .seconds(30), maxUsers: 1_000)
        var outcome = Outcome(
            snapshot: [], positions: [:], deadLetterOffsets: [], deadLetterReasons: [], recentEventIDs: [], owed: [],
            owedOffsets: [], countsByType: Array(repeating: 0, count: EventType.allCases.count), decodeErrors: 0,
            duplicates: 0)
        for record in records {
            if let next = positions[record.topicPartition], record.offset < next { continue }
            positions[record.topicPartition] = record.offset + 1
            guard let value = record.value else {
                outcome.deadLetterOffsets.append(record.offset)
                outcome.deadLetterReasons.append("null value (tombstone)")
                continue
            }
            let event: Event
            do {
                event = try EventDecoder.decode(value)
            } catch {
                outcome.decodeErrors += 1
                outcome.deadLetterOffsets.append(record.offset)
                outcome.deadLetterReasons.append(error.description)
                continue
            }
            if let id = event.eventID, !window.insert(id) {
                outcome.duplicates += 1
                continue
            }
            outcome.countsByType[event.type.ordinal] += 1
            engine.apply(event)
            pending.record(
                userID: event.userID!,
                .init(source: .init(topic: record.topic, partition: record.partition, offset: record.offset),
                      eventTime: event.timestampMilliseconds, recordTimestamp: record.timestampMilliseconds),
                now: .now)
        }
        outcome.snapshot = engine.snapshot()
        outcome.positions = positions
        outcome.recentEventIDs = window.recent
        outcome.owed = pending.ordered.map(\.userID)
        outcome.owedOffsets = pending.ordered.map(\.entry.source.offset)
        return outcome
    }

    /// The records as batches (split at `batchEnds`), each through `PipelineRun.apply`.
    static func inStages(
        _ records: [KafkaRecord], from start: [KafkaTopicPartition: Int64], sliceRecords: Int, batchEnds: [Int] = []
    ) async -> Outcome {
        var positions = start
        let state = LiveState(engine: RecommendationEngine())
        var window = DeduplicationWindow(capacity: 64)
        var pending = PendingRefreshes(maxDelay: .seconds(30), maxUsers: 1_000)
        var deadLetters: [DeadLetter] = []
        var countsByType = Array(repeating: 0, count: EventType.allCases.count)
        var decodeErrors = 0
        var duplicates = 0
        var batchStart = 0
        for batchEnd in batchEnds + [records.count] {
            let applied = await PipelineRun.apply(
                Array(records[batchStart..<batchEnd]), positions: &positions, deduplication: &window,
                pending: &pending, state: state, now: .now, sliceRecords: sliceRecords)
            deadLetters += applied.deadLetters
            countsByType = zip(countsByType, applied.countsByType).map { $0 + $1 }
            decodeErrors += applied.decodeErrors
            duplicates += applied.duplicates
            batchStart = batchEnd
        }
        return Outcome(
            snapshot: state.withEngine { $0.snapshot() }, positions: positions,
            deadLetterOffsets: deadLetters.map { Int64(DeadLetter.header(DeadLetter.offsetHeader, in: $0.headers)!)! },
            deadLetterReasons: deadLetters.map { DeadLetter.header(DeadLetter.reasonHeader, in: $0.headers)! },
            recentEventIDs: window.recent, owed: pending.ordered.map(\.userID),
            owedOffsets: pending.ordered.map(\.entry.source.offset), countsByType: countsByType,
            decodeErrors: decodeErrors, duplicates: duplicates)
    }

    /// Every slicing (slices growing from 64 records up to the cap), from one record per slice to the whole
    /// batch in a few, applies each event once and in order, skips what the positions say is applied, and
    /// dead-letters and drops exactly what applying one record at a time does.
    @Test(arguments: [1, 2, 7, 100, 512, 5_000])
    func anySlicingAppliesTheBatchAsOneRecordAtATime(sliceRecords: Int) async {
        let (records, start) = Self.batch()
        let expected = Self.oneByOne(records, from: start)
        // The batch exercises every path.
        #expect(expected.decodeErrors > 10)
        #expect(expected.deadLetterReasons.contains("null value (tombstone)"))
        #expect(expected.duplicates > 10)
        #expect(expected.positions.count == 3)
        #expect(expected.deadLetterOffsets.count < records.filter { $0.value.map { (try? EventDecoder.decode($0)) == nil } ?? true }.count)

        let staged = await Self.inStages(records, from: start, sliceRecords: sliceRecords)
        #expect(staged == expected)
    }

    /// Consecutive batches hand the positions, the dedup window and the owed refreshes on to each other
    /// exactly: a duplicate in the next batch is still dropped, a re-read record still skipped.
    @Test(arguments: [[1], [700], [3, 4, 1_000], [512, 1_024, 1_490]])
    func consecutiveBatchesApplyTheRecordsAsOneRecordAtATime(batchEnds: [Int]) async {
        let (records, start) = Self.batch()
        let expected = Self.oneByOne(records, from: start)
        let staged = await Self.inStages(records, from: start, sliceRecords: 100, batchEnds: batchEnds)
        #expect(staged == expected)
    }
}
