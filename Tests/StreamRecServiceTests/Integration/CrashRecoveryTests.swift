import Foundation
import StreamRecEngine
import StreamRecKafka
import Testing
@testable import StreamRecService

@Suite(.serialized) struct CrashRecoveryTests {
    /// SIGKILL at random points while ≥ 100k events stream in, restarting each time: the final state is
    /// byte-identical to the same events applied once, in order, with no crash. One input partition, so the
    /// order is the topic's order (see docs/operations.md on ordering across partitions).
    @Test(.timeLimit(.minutes(4)))
    func sigkillAtRandomPointsLeavesStateIdenticalToAnUninterruptedRun() async throws {
        let cluster = try TestCluster(inputPartitions: 1)
        var generator = SessionGenerator(seed: 2024, users: 20, itemsPerCategory: 20, startMilliseconds: 1_732_550_400_000)
        let events = generator.catalogueEvents().map { $0.jsonBytes() } + (0..<100_000).map { _ in generator.next().jsonBytes() }

        var reference = RecommendationEngine()
        for bytes in events { reference.apply(try EventDecoder.decode(bytes)) }

        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SeededRandom(seed: seed)
        let killPoints = (0..<3).map { _ in Int64(Double(events.count) * (0.1 + 0.8 * random.unit())) }.sorted()
        let context = "seed \(seed), kill points \(killPoints)"

        var service = try cluster.startService(environment: ["STREAMREC_CHECKPOINT_INTERVAL": "300ms"])
        var sent = 0
        var kills = 0
        while true {
            let applied = try await cluster.checkpoint()?.nextOffsets.values.first ?? 0
            // The mock broker keeps only ~25k small records per partition: stay well within it.
            if sent < events.count, sent - Int(applied) < 10_000 {
                for bytes in events[sent..<min(sent + 2_000, events.count)] {
                    try await cluster.producer.enqueue(topic: cluster.inputTopic, key: nil, value: bytes)
                }
                try await cluster.producer.flush(timeout: .seconds(30))
                sent = min(sent + 2_000, events.count)
                continue
            }
            if kills < killPoints.count, applied >= killPoints[kills] {
                // Somewhere after a checkpoint: mid-batch, mid-publish or mid-checkpoint.
                try await Task.sleep(for: .milliseconds(Int64(random.unit() * 400)))
                service.signal(SIGKILL)
                let exit = await service.waitForExit(timeout: .seconds(5))
                #expect(exit?.bySignal == true, "\(context)")
                kills += 1
                service = try cluster.startService(environment: ["STREAMREC_CHECKPOINT_INTERVAL": "300ms"])
                continue
            }
            if applied == Int64(events.count), kills == killPoints.count { break }
            guard service.process.isRunning else {
                Issue.record("service died: \(context)\n\(service.log.suffix(3000))")
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        service.signal(SIGTERM)
        let exit = await service.waitForExit(timeout: .seconds(10))
        #expect(exit?.status == 0 && exit?.bySignal == false, "\(context)")

        let checkpoint = try #require(try await cluster.checkpoint())
        #expect(checkpoint.nextOffsets == [KafkaTopicPartition(topic: cluster.inputTopic, partition: 0): Int64(events.count)])
        let snapshot = checkpoint.engineSnapshot
        let expected = reference.snapshot()
        #expect(snapshot.count == expected.count, "\(context)")
        #expect(snapshot == expected, "state differs from an uninterrupted run: \(context)")
        await cluster.close()
    }
}

/// SplitMix64, so a failing run can be repeated from its logged seed.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func unit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
}
