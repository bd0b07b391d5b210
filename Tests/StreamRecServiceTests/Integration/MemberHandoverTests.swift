import Foundation
import StreamRecKafka
import Testing
@testable import StreamRecService

/// Two members of one group, each with its own state (docs/operations.md, "Several instances").
@Suite(.serialized) struct MemberHandoverTests {
    /// A partition that comes back to a member after another read it is read again from where this member's
    /// state left it, so its state holds every event of the partition once: none missed, none twice.
    @Test(.timeLimit(.minutes(3)))
    func aPartitionThatComesBackIsReadFromWhereThisStateLeftIt() async throws {
        let cluster = try TestCluster(inputPartitions: 2)
        var time: Int64 = 1_732_550_400_000
        var sent = 0
        var lastSources: [String: RecommendationMessage.Source] = [:]
        func sendRound(_ round: Int) async throws {
            for user in 1...20 {
                time += 1000
                let userID = "user-\(user)"
                let (partition, offset) = try await cluster.send(
                    eventJSON(id: "\(userID)-\(round)", type: "click", user: userID, item: "sku-\((user + round) % 9)",
                              timestamp: time),
                    key: userID)
                lastSources[userID] = .init(topic: cluster.inputTopic, partition: partition, offset: offset)
                sent += 1
            }
            // Every user's latest recommendation comes from this round: whoever holds a partition has read it.
            _ = try await cluster.latestRecommendations(from: lastSources, timeout: .seconds(60))
        }
        func assignments(_ service: ServiceProcess) -> Int { service.log.components(separatedBy: "partitions assigned").count - 1 }

        let first = try cluster.startService()
        let firstPort = try await first.httpPort()
        try await sendRound(1)

        // A second member joins: each now holds one partition; round 2 is split between them.
        let second = try cluster.startService(stateDirectory: cluster.makeStateDirectory())
        _ = try await second.httpPort()
        _ = try await eventually("the second member's assignment", timeout: .seconds(60)) {
            assignments(second) >= 1 && assignments(first) >= 2 ? true : nil
        }
        try await sendRound(2)

        // It leaves (committing what it applied): the first member gets its partition back.
        second.signal(SIGTERM)
        #expect(await second.waitForExit(timeout: .seconds(15))?.status == 0)
        _ = try await eventually("the partition back at the first member", timeout: .seconds(60)) {
            assignments(first) >= 3 ? true : nil
        }
        try await sendRound(3)

        // The first member applied every event of both partitions exactly once, the second member's share of
        // round 2 included.
        let consumed = try await eventually("every event applied by the first member", timeout: .seconds(30)) {
            () async throws -> Double? in
            guard let metrics = PrometheusText.parse(try await httpGet(port: firstPort, path: "/metrics").body) else { return nil }
            let consumed = metrics.filter { $0.key.hasPrefix("streamrec_events_consumed_total") }.values.reduce(0, +)
            return consumed >= Double(sent) ? consumed : nil
        }
        #expect(consumed == Double(sent))
        first.signal(SIGTERM)
        #expect(await first.waitForExit(timeout: .seconds(15))?.status == 0)
        await cluster.close()
    }
}
