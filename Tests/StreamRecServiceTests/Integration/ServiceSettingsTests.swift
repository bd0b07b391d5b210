import Foundation
import StreamRecEngine
import Testing
@testable import StreamRecService

/// `recommendations.*` and `engine.config_file` reach what `serve` publishes, and a restart from a checkpoint takes
/// the file's recommend-time settings while keeping (and naming) those that shaped the state.
@Suite(.serialized) struct ServiceSettingsTests {
    @Test(.timeLimit(.minutes(2)))
    func publishedRecommendationsFollowTheFiltersAndTheEngineFileAcrossARestart() async throws {
        let cluster = try TestCluster(inputPartitions: 2)
        let users = (0..<10).map { "user-\($0)" }
        var lastEvent: [String: RecommendationMessage.Source] = [:]
        var touched: [String: Set<String>] = [:]
        var time: Int64 = 1_732_550_400_000
        func click(_ user: String, _ item: String) async throws {
            time += 1000
            let (partition, offset) = try await cluster.send(
                eventJSON(id: "\(user)-\(time)", type: "click", user: user, item: item, timestamp: time), key: user)
            lastEvent[user] = .init(topic: cluster.inputTopic, partition: partition, offset: offset)
            touched[user, default: []].insert(item)
        }
        for (index, user) in users.enumerated() {
            for step in 0..<3 { try await click(user, "sku-\((index + step) % 8)") }
        }

        let engineFile = cluster.makeStateDirectory() + "-engine.yaml"
        defer { try? FileManager.default.removeItem(atPath: engineFile) }
        // Popularity alone: every reason reads "popular".
        try "blend:\n  recent: 0\n  sessionNeighbours: 0\n  itemCF: 0\n  query: 0\n  semantic: 0\n  popular: 1\n"
            .write(toFile: engineFile, atomically: true, encoding: .utf8)
        let environment = [
            "STREAMREC_ENGINE_CONFIG_FILE": engineFile, "STREAMREC_RECOMMENDATIONS_EXCLUDE_SEEN": "true",
            "STREAMREC_RECOMMENDATIONS_DENY_ITEMS": "sku-1",
        ]
        func checkFilters(_ latest: [String: RecommendationMessage]) {
            for user in users {
                let items = Set(latest[user]?.items.map(\.itemID) ?? [])
                #expect(!items.isEmpty, "\(user) got no items")
                #expect(items.isDisjoint(with: touched[user] ?? []), "\(user) was offered an item they touched")
                #expect(!items.contains("sku-1"), "\(user) was offered the denied item")
            }
        }

        let first = try cluster.startService(environment: environment)
        let before = try await cluster.latestRecommendations(from: lastEvent, timeout: .seconds(60))
        checkFilters(before)
        #expect(before.values.flatMap(\.items).allSatisfy { $0.reasons.map(\.kind) == [Reason.Kind.popular] })
        first.signal(SIGTERM)
        #expect(await first.waitForExit(timeout: .seconds(15))?.status == 0)

        // The default blend again, and a user cap the checkpoint's state was not built with.
        try "blend:\n  popular: 0.02\ncapacity:\n  maxUsers: 5\n".write(toFile: engineFile, atomically: true, encoding: .utf8)
        let second = try cluster.startService(environment: environment)
        for (index, user) in users.enumerated() { try await click(user, "sku-\((index + 3) % 8)") }
        let after = try await cluster.latestRecommendations(from: lastEvent, timeout: .seconds(60))
        checkFilters(after)
        let kinds = Set(after.values.flatMap(\.items).flatMap(\.reasons).map(\.kind))
        #expect(kinds.contains { $0 != Reason.Kind.popular }, "the file's blend was not taken: \(kinds)")
        #expect(second.log.contains("engine settings differ from the checkpoint's state"))
        #expect(second.log.contains("capacity"))
        #expect(try await cluster.checkpoint().map { try RecommendationEngine(snapshot: $0.engineSnapshot).userCount } ?? 0 >= users.count)
        second.signal(SIGTERM)
        _ = await second.waitForExit(timeout: .seconds(15))
        await cluster.close()
    }
}
