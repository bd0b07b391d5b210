import Testing
@testable import StreamRecEngine

@Suite struct RecommendTests {
    @Test func aFirstSearchRecommendsWhatOthersClickedAfterIt() {
        var engine = RecommendationEngine()
        for user in 0..<3 {
            engine.apply([Make.search("u\(user)", "trail shoes", at: Double(user) * 10),
                          Make.click("u\(user)", "sku-1", at: Double(user) * 10 + 2)])
        }
        engine.apply([Make.search("u9", "red hat", at: 40), Make.click("u9", "hat-1", at: 41)])
        engine.apply(Make.search("fresh", "Trail  Shoes!", at: 100))
        let top = engine.recommend(userID: "fresh", k: 3)
        #expect(top.first?.itemID == "sku-1")
        #expect(top.first?.reasons.first == Reason(kind: "query", query: "trail shoes"))
    }

    @Test func aClickCarryingItsQueryCountsForThatQuery() {
        var engine = RecommendationEngine()
        engine.apply(Make.click("u1", "sku-7", at: 0, query: "wool socks"))
        engine.apply(Make.click("u2", "sku-8", at: 1))
        engine.apply(Make.search("fresh", "wool socks", at: 5))
        #expect(engine.ids(for: "fresh", k: 1) == ["sku-7"])
    }

    @Test func unknownUsersGetPopularItems() {
        var engine = RecommendationEngine()
        engine.apply([Make.click("a", "x", at: 0), Make.click("b", "x", at: 1), Make.click("c", "y", at: 2)])
        let top = engine.recommend(userID: "stranger", k: 5)
        #expect(top.map(\.itemID) == ["x", "y"])
        #expect(top.allSatisfy { $0.reasons == [Reason(kind: "popular")] })
    }

    @Test func filtersExcludeWhatTheyName() {
        var engine = RecommendationEngine()
        engine.apply([Make.item("boot", category: "shoes"), Make.item("sandal", category: "shoes"),
                      Make.item("scarf", category: "accessories"), Make.item("belt", category: "accessories")])
        for (index, item) in ["boot", "sandal", "scarf", "belt"].enumerated() {
            for user in 0...index { engine.apply(Make.click("p\(user)", item, at: Double(index * 10 + user))) }
        }
        engine.apply([Make.click("me", "boot", at: 100, type: .purchase), Make.click("me", "scarf", at: 101, type: .view)])
        let all = Set(engine.ids(for: "me"))
        #expect(all == ["boot", "sandal", "scarf", "belt"])
        #expect(!engine.ids(for: "me", filters: RecommendationFilters()).contains("boot"))
        #expect(Set(engine.ids(for: "me", filters: RecommendationFilters(excludeSeen: true))) == ["sandal", "belt"])
        #expect(Set(engine.ids(for: "me", filters: RecommendationFilters(includeCategories: ["shoes"]))) == ["sandal"])
        #expect(Set(engine.ids(for: "me", filters: RecommendationFilters(excludeCategories: ["shoes"]))) == ["scarf", "belt"])
        #expect(Set(engine.ids(for: "me", filters: RecommendationFilters(excludePurchased: false, denyItems: ["belt", "nope"])))
                == ["boot", "sandal", "scarf"])
    }

    @Test func diversityPicksDissimilarItems() {
        var engine = RecommendationEngine(configuration: EngineConfiguration().restricted(to: .popular))
        engine.apply([Make.item("shoe-1", title: "red trail running shoe"), Make.item("shoe-2", title: "red trail running shoes"),
                      Make.item("jacket", title: "blue denim jacket")])
        for (item, clicks) in [("shoe-1", 3), ("shoe-2", 2), ("jacket", 1)] {
            for user in 0..<clicks { engine.apply(Make.click("\(item)-\(user)", item, at: Double(user))) }
        }
        #expect(engine.ids(for: "anyone", k: 2) == ["shoe-1", "shoe-2"])
        #expect(engine.ids(for: "anyone", k: 2, filters: RecommendationFilters(diversity: 0.7)) == ["shoe-1", "jacket"])
    }

    @Test func reasonsNameTheirSource() {
        var engine = RecommendationEngine()
        for user in 0..<4 {
            engine.apply([Make.click("u\(user)", "tent", at: Double(user) * 10, session: "s\(user)"),
                          Make.click("u\(user)", "stove", at: Double(user) * 10 + 1, session: "s\(user)")])
        }
        engine.apply(Make.click("me", "tent", at: 100, type: .view))
        let top = engine.recommend(userID: "me", k: 2, filters: .none)
        let byItem = Dictionary(uniqueKeysWithValues: top.map { ($0.itemID, $0.reasons) })
        #expect(byItem["tent"]?.first == Reason(kind: "recent"))
        #expect(byItem["stove"]?.contains(Reason(kind: "co_view", itemID: "tent")) == true)
        #expect(byItem["stove"]?.contains(Reason(kind: "similar_sessions")) == true)
        #expect(top.allSatisfy { $0.reasons.count <= 3 && $0.score > 0 })
    }

    @Test func tiesRankByItemID() {
        var engine = RecommendationEngine(configuration: EngineConfiguration().restricted(to: .popular))
        engine.apply([Make.click("a", "zeta", at: 0), Make.click("b", "alpha", at: 0), Make.click("c", "mid", at: 0)])
        #expect(engine.ids(for: "x") == ["alpha", "mid", "zeta"])
    }

    @Test func semanticRetrievalFindsItemsNearTheInterest() {
        var engine = RecommendationEngine(configuration: EngineConfiguration().restricted(to: .semantic))
        for index in 0..<300 {
            engine.apply(Make.item("filler-\(index)", title: "gadget number \(index) widget", at: 0))
        }
        engine.apply([Make.item("boot-a", title: "leather hiking boots", at: 0), Make.item("boot-b", title: "hiking boot leather", at: 0)])
        engine.apply(Make.search("me", "leather hiking boots", at: 1))
        let top = engine.ids(for: "me", k: 2)
        #expect(Set(top) == ["boot-a", "boot-b"])
        #expect(engine.semanticIndex.centroidCount > 1)
    }
}
