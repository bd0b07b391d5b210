import Foundation
import StreamRecEngine
import StreamRecKafka
import Testing
@testable import StreamRecService

/// `--from earliest|TIME` rebuilds state from the topic's history, whatever the group has committed
/// (docs/operations.md, "Restart semantics").
@Suite(.serialized) struct RebuildFromHistoryTests {
    @Test(.timeLimit(.minutes(3)))
    func fromEarliestAndFromTimeIgnoreTheCommittedOffsets() async throws {
        let cluster = try TestCluster(inputPartitions: 2)
        var time: Int64 = 1_732_550_400_000
        func send(_ prefix: String) async throws {
            for user in 1...20 {
                time += 1000
                try await cluster.send(
                    eventJSON(id: "\(prefix)-\(user)", type: "click", user: "\(prefix)-\(user)", item: "sku-\(user % 7)",
                              timestamp: time),
                    key: "\(prefix)-\(user)")
            }
        }
        // Kafka record timestamps (produce time) split the two rounds.
        try await send("old")
        try await Task.sleep(for: .milliseconds(200))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let between = formatter.string(from: Date())
        try await Task.sleep(for: .milliseconds(200))
        try await send("new")

        /// Runs `serve` on a fresh state directory until it has consumed `events`, stops it, and returns the
        /// users of the state it checkpointed.
        func serve(from: String?, events: Int) async throws -> Int {
            let directory = cluster.makeStateDirectory()
            let service = try cluster.startService(
                environment: from.map { ["STREAMREC_KAFKA_FROM": $0] } ?? [:], stateDirectory: directory)
            let port = try await service.httpPort()
            _ = try await eventually("\(events) events applied", timeout: .seconds(60)) { () async throws -> Bool? in
                guard let metrics = PrometheusText.parse(try await httpGet(port: port, path: "/metrics").body) else { return nil }
                let consumed = metrics.filter { $0.key.hasPrefix("streamrec_events_consumed_total") }.values.reduce(0, +)
                return consumed >= Double(events) ? true : nil
            }
            service.signal(SIGTERM)
            #expect(await service.waitForExit(timeout: .seconds(15))?.status == 0)
            let checkpoint = try #require(try await CheckpointStore(directory: directory).load())
            return try RecommendationEngine(snapshot: checkpoint.engineSnapshot).userCount
        }

        // The group reads everything and commits the end of both partitions.
        #expect(try await serve(from: nil, events: 40) == 40)
        let ends = try await cluster.committedOffsets(partitions: 2)
        #expect(ends.values.reduce(0, +) == 40)

        // Fresh state, same group: the committed offsets would give it nothing to read.
        #expect(try await serve(from: "earliest", events: 40) == 40)
        #expect(try await serve(from: between, events: 20) == 20)
        await cluster.close()
    }
}
