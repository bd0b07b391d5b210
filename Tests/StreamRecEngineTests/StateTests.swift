import Foundation
import Testing
@testable import StreamRecEngine

@Suite struct BoundedMemoryTests {
    @Test func aFloodOfNewUsersAndItemsStaysWithinTheCaps() {
        var configuration = EngineConfiguration()
        configuration.capacity.maxUsers = 50
        configuration.capacity.maxItems = 40
        configuration.capacity.maxQueries = 10
        configuration.capacity.maxSessions = 30
        configuration.capacity.historyPerUser = 5
        configuration.capacity.countersPerItem = 4
        configuration.capacity.sessionsPerItem = 3
        var engine = RecommendationEngine(configuration: configuration)
        var sizes: [Int] = []
        for round in 0..<4000 {
            let seconds = Double(round)
            engine.apply(Make.search("user-\(round)", "query \(round)", at: seconds))
            engine.apply(Make.click("user-\(round)", "item-\(round)", at: seconds))
            engine.apply(Make.click("user-\(round)", "item-\(round + 1)", at: seconds))
            engine.apply(Make.click("user-\(round)", "item-\(round % 7)", at: seconds))
            if round % 1000 == 999 { sizes.append(engine.snapshot().count) }
            #expect(engine.userCount <= 50 && engine.itemCount <= 40)
        }
        #expect(engine.userCount == 50)
        #expect(engine.itemCount == 40)
        #expect(engine.queryTable.count == 10)
        #expect(engine.users.count == 50 && engine.items.count == 40, "slots are reused, not grown")
        #expect(engine.items.allSatisfy { $0.neighbours.entries.count <= 4 && $0.recentSessions.count <= 3 })
        #expect(engine.users.allSatisfy { $0.history.count <= 5 })
        // The state's size is flat as events grow.
        #expect(sizes.max()! - sizes.min()! < sizes.min()! / 20)
        // The newest user is served; the first one was evicted and now gets popular items only.
        #expect(!engine.ids(for: "user-3999").isEmpty)
        #expect(engine.recommend(userID: "user-0", k: 3).allSatisfy { $0.reasons == [Reason(kind: "popular")] })
    }
}

@Suite struct DeterminismAndSnapshotTests {
    @Test func twoRunsGiveIdenticalSnapshotBytes() {
        let events = Make.syntheticStream(count: 6000)
        var first = RecommendationEngine()
        var second = RecommendationEngine()
        first.apply(events)
        // The second engine goes through a snapshot halfway: its dictionaries are built in another order.
        second.apply(Array(events[..<3000]))
        second = try! RecommendationEngine(snapshot: second.snapshot())
        second.apply(Array(events[3000...]))
        #expect(first.snapshot() == second.snapshot())
        for user in 0..<50 {
            #expect(first.recommend(userID: "u\(user)", k: 20, filters: RecommendationFilters(diversity: 0.3))
                    == second.recommend(userID: "u\(user)", k: 20, filters: RecommendationFilters(diversity: 0.3)))
        }
    }

    @Test func aRestoredEngineRecommendsTheSame() throws {
        var configuration = EngineConfiguration()
        configuration.capacity.maxUsers = 120
        configuration.capacity.maxItems = 250
        var engine = RecommendationEngine(configuration: configuration)
        engine.apply(Make.syntheticStream(count: 5000, seed: 11))
        let bytes = engine.snapshot()
        let restored = try RecommendationEngine(snapshot: bytes)
        #expect(restored.configuration == engine.configuration)
        #expect(restored.snapshot() == bytes)
        #expect(restored.userCount == engine.userCount && restored.itemCount == engine.itemCount)
        for user in 0..<200 {
            #expect(restored.recommend(userID: "u\(user)", k: 20) == engine.recommend(userID: "u\(user)", k: 20))
        }
    }

    @Test func corruptSnapshotsAreErrors() {
        var engine = RecommendationEngine()
        engine.apply(Make.syntheticStream(count: 500))
        let bytes = engine.snapshot()
        #expect(throws: SnapshotError.self) { try RecommendationEngine(snapshot: Array(bytes.dropFirst())) }
        #expect(throws: SnapshotError.self) { try RecommendationEngine(snapshot: bytes + [0]) }
        var wrongVersion = bytes
        wrongVersion[4] = 99
        #expect(throws: SnapshotError.self) { try RecommendationEngine(snapshot: wrongVersion) }
        var random = SplitMix64(seed: 3)
        for _ in 0..<300 {
            var damaged = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count))))
            if !damaged.isEmpty, random.next() % 2 == 0 {
                damaged[Int(random.next() % UInt64(damaged.count))] ^= 0xFF
            }
            _ = try? RecommendationEngine(snapshot: damaged)
        }
    }
}

@Suite struct EvaluationTests {
    private func events(_ name: String) throws -> [Event] {
        let url = try #require(
            Bundle.module.url(forResource: name, withExtension: "jsonl", subdirectory: "Resources/yoochoose-slice"))
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { line throws(EventDecodingError) in
            try EventDecoder.decode(Array(line.utf8))
        }
    }

    @Test func hybridBeatsPopularityOnASliceOfRealClicks() throws {
        let train = try events("train")
        let test = try events("test")
        let popular = Evaluator.run(train: train, test: test, k: 20, algorithm: .popular)
        let itemCF = Evaluator.run(train: train, test: test, k: 20, algorithm: .itemcf)
        let hybrid = Evaluator.run(train: train, test: test, k: 20, algorithm: .hybrid)
        #expect(popular.scored > 400 && hybrid.scored == popular.scored)
        #expect(hybrid.hitRate > popular.hitRate + 0.2)
        #expect(hybrid.mrr > popular.mrr)
        #expect(itemCF.hitRate > popular.hitRate)
        #expect(hybrid.ndcg >= hybrid.mrr && hybrid.ndcg <= hybrid.hitRate)
    }
}
