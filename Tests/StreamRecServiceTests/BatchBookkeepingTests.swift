import StreamRecEngine
import StreamRecKafka
import Testing
@testable import StreamRecService

/// The per-batch bookkeeping in `PipelineRun.process` that replaced dictionary lookups per record.
@Suite struct BatchBookkeepingTests {
    /// `countsByType` is indexed by `ordinal`: a wrong index would count events under another type's metric.
    @Test func eventTypeOrdinalsAreTheirPlacesInAllCases() {
        #expect(EventType.allCases.map(\.ordinal) == Array(EventType.allCases.indices))
    }

    /// Records of several partitions, in runs and interleaved, some below a partition's position: the runs
    /// give the same positions, and skip the same records, as a lookup per record.
    @Test func partitionRunsGiveTheSamePositionsAsALookupPerRecord() {
        var random = SplitMix64(seed: 5)
        let start: [KafkaTopicPartition: Int64] = [
            KafkaTopicPartition(topic: "a", partition: 0): 10, KafkaTopicPartition(topic: "b", partition: 0): 3,
        ]
        var perRecord = start
        var runs = start
        var nextOffset: [KafkaTopicPartition: Int64] = [:]
        var records: [KafkaRecord] = []
        for _ in 0..<2_000 {
            let partition = KafkaTopicPartition(topic: random.next() % 2 == 0 ? "a" : "b", partition: Int32(random.next() % 3))
            // A run of 1–5 records, now and then going back (a re-read after a restart).
            for _ in 0..<(1 + random.next() % 5) {
                var offset = nextOffset[partition, default: 0]
                if random.next() % 10 == 0 { offset = max(0, offset - Int64(random.next() % 8)) }
                nextOffset[partition] = offset + 1
                records.append(KafkaRecord(topic: partition.topic, partition: partition.partition, offset: offset, key: nil, value: nil))
            }
        }
        var appliedPerRecord: [Int] = []
        for (index, record) in records.enumerated() {
            if let next = perRecord[record.topicPartition], record.offset < next { continue }
            perRecord[record.topicPartition] = record.offset + 1
            appliedPerRecord.append(index)
        }
        var appliedByRuns: [Int] = []
        var run = PartitionRun()
        for index in records.indices {
            if !run.holds(records[index]) {
                run.store(into: &runs)
                run = PartitionRun(of: records[index], positions: runs)
            }
            if let next = run.next, records[index].offset < next { continue }
            run.next = records[index].offset + 1
            appliedByRuns.append(index)
        }
        run.store(into: &runs)
        #expect(runs == perRecord)
        #expect(appliedByRuns == appliedPerRecord)
        #expect(appliedByRuns.count < records.count)
    }
}
