import Foundation
import StreamRecKafka
import Testing
@testable import StreamRecService

/// Refreshes coalesced while the service is behind: part of the checkpoint, published after a crash.
@Suite(.serialized) struct CoalescingTests {
    /// A backlog with `coalesce_max_delay` 1 h, so refreshes are only owed. The broker hands it out slowly
    /// (record batches of 5, one per fetch, 10 ms per response), so the backlog lasts long enough for the test
    /// to see checkpoints taken in it, and polls (up to 10 events) are never full: the service must count
    /// itself behind from the broker's high watermark, not from full polls;
    /// SIGKILL once a checkpoint holds some, restart: every user's latest message carries their last event's
    /// offset, including users whose events all lie below the committed offsets (only the checkpoint's
    /// owed refreshes can publish those). Then, caught up, one more event is refreshed at once although
    /// the delay is 1 h: steady traffic is refreshed per batch.
    @Test(.timeLimit(.minutes(3)))
    func owedRefreshesSurviveACrashAndCaughtUpTrafficIsRefreshedPerBatch() async throws {
        let cluster = try TestCluster(inputPartitions: 1)
        let environment = [
            "STREAMREC_PIPELINE_MAX_BATCH_EVENTS": "10", "STREAMREC_PIPELINE_MAX_BACKLOG_BATCH_EVENTS": "10",
            "STREAMREC_PIPELINE_COALESCE_MAX_DELAY": "1h", "STREAMREC_CHECKPOINT_INTERVAL": "200ms",
        ]
        // 400 users with 50 events each, one user after the other: each batch touches one or two users.
        let users = (0..<400).map { "user-\($0)" }
        var lastSource: [String: RecommendationMessage.Source] = [:]
        var time: Int64 = 1_732_550_400_000
        var sent: Int64 = 0
        // Record batches of 5: a fetch returns whole batches, so only small ones keep the fetches small.
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(
                bootstrapServers: cluster.broker.bootstrapServers, properties: ["batch.num.messages": "5"]),
            logger: TestCluster.logger)
        for user in users {
            for n in 0..<50 {
                time += 1000
                try await producer.enqueue(
                    topic: cluster.inputTopic, key: Array(user.utf8),
                    value: eventJSON(id: "\(user)-\(n)", type: "view", user: user, item: "sku-\(n % 13)", timestamp: time))
                // One partition, one idempotent producer: offsets follow the send order.
                lastSource[user] = .init(topic: cluster.inputTopic, partition: 0, offset: sent)
                sent += 1
            }
        }
        try await producer.flush(timeout: .seconds(30))
        await producer.close()

        try cluster.broker.setRoundTripTime(1, .milliseconds(10))
        var service = try cluster.startService(
            environment: environment, kafkaProperties: ["max.partition.fetch.bytes": "4000"])
        let killed: Checkpoint
        do {
            killed = try await eventually("a checkpoint owing refreshes", timeout: .seconds(120)) { () async throws -> Checkpoint? in
                guard let checkpoint = try await cluster.checkpoint(), checkpoint.pendingRefreshes.count >= 3 else { return nil }
                return checkpoint
            }
        } catch {
            Issue.record("\(error); last checkpoint: \(String(describing: try await cluster.checkpoint()?.nextOffsets)); log:\n\(service.log.suffix(3000))")
            return
        }
        service.signal(SIGKILL)
        #expect(await service.waitForExit(timeout: .seconds(5))?.bySignal == true)

        // Users whose last event the killed checkpoint holds, owed: nothing will read their events again.
        let committed = try #require(killed.nextOffsets.values.first)
        let owed = killed.pendingRefreshes.filter { lastSource[$0.userID] == $0.entry.source }
        #expect(!owed.isEmpty)
        #expect(owed.allSatisfy { $0.entry.source.offset < committed })
        let beforeRestart = TestCluster.latestByUser(try await cluster.read(cluster.outputTopic, timeout: .seconds(30)) { _ in true })
        let unpublished = owed.filter { beforeRestart[$0.userID]?.source != $0.entry.source }
        #expect(!unpublished.isEmpty, "the owed refreshes were published before the crash; the test proves nothing")

        try cluster.broker.setRoundTripTime(1, .zero)
        service = try cluster.startService(environment: environment)
        let latest = try await cluster.latestRecommendations(from: lastSource, timeout: .seconds(90))
        for user in users {
            #expect(latest[user]?.source == lastSource[user], "\(user)")
            #expect(latest[user]?.items.isEmpty == false, "\(user) got no items")
        }

        let (partition, offset) = try await cluster.send(
            eventJSON(id: "user-7-last", type: "view", user: "user-7", item: "sku-3", timestamp: time + 1000), key: "user-7")
        let afterProbe = try await cluster.read(cluster.outputTopic, timeout: .seconds(30)) { records in
            TestCluster.latestByUser(records)["user-7"]?.source.offset == offset
        }
        #expect(TestCluster.latestByUser(afterProbe)["user-7"]?.source == .init(topic: cluster.inputTopic, partition: partition, offset: offset))

        service.signal(SIGTERM)
        let exit = await service.waitForExit(timeout: .seconds(10))
        #expect(exit?.status == 0 && exit?.bySignal == false)
        await cluster.close()
    }
}
