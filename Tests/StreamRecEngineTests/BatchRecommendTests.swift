import Testing
@testable import StreamRecEngine

@Suite struct BatchRecommendTests {
    /// The service recommends a batch's users with one call per slice; each list must be exactly what a
    /// call for that user alone returns (known, unknown and filtered users alike).
    @Test func recommendingManyUsersAtOnceEqualsOneCallEach() {
        var engine = RecommendationEngine()
        engine.apply(Make.syntheticStream(count: 3_000, users: 60, items: 150))
        let users = (0..<60).map { "u\($0)" } + ["nobody"]
        let filters = RecommendationFilters(excludePurchased: true)
        for k in [1, 20] {
            let batch = engine.recommend(userIDs: users, k: k, filters: filters)
            #expect(batch == users.map { engine.recommend(userID: $0, k: k, filters: filters) })
            #expect(batch.allSatisfy { $0.count == k })
        }
    }
}
