import Foundation
import Testing
@testable import StreamRecService

@Suite struct SessionGeneratorTests {
    @Test func sameSeedSameStreamOtherSeedOtherStream() {
        var first = SessionGenerator(seed: 7, startMilliseconds: 0)
        var second = SessionGenerator(seed: 7, startMilliseconds: 0)
        var third = SessionGenerator(seed: 8, startMilliseconds: 0)
        let a = (0..<500).map { _ in first.next() }
        #expect(a == (0..<500).map { _ in second.next() })
        #expect(a != (0..<500).map { _ in third.next() })
    }

    @Test func sessionsStartWithSearchesAndClicksFollowTheQueryCategory() throws {
        var generator = SessionGenerator(seed: 1, users: 20, startMilliseconds: 1_000)
        let categoryOfItem = Dictionary(uniqueKeysWithValues: generator.catalogue.map { ($0.itemID, $0.category) })
        var lastSearch: [String: (session: String, query: String)] = [:]
        var clickCounts: [String: Int] = [:]
        var previousTime: Int64 = 0
        for _ in 0..<20_000 {
            let event = generator.next()
            #expect(event.timestamp > previousTime)
            previousTime = event.timestamp
            let user = try #require(event.userID)
            if event.type == "search" {
                let sessionID = try #require(event.sessionID)
                let query = try #require(event.query)
                lastSearch[user] = (sessionID, query)
                continue
            }
            // Every item event belongs to the session opened by the user's last search.
            #expect(event.sessionID == lastSearch[user]?.session)
            let itemID = try #require(event.itemID)
            let category = try #require(categoryOfItem[itemID])
            let queries = SessionGenerator.categories.first { $0.name == category }!.queries
            let query = lastSearch[user]!.query
            #expect(queries.contains(query) || queries.contains { Set($0) == Set(query) })
            if event.type == "click" {
                #expect(event.query == query)
                clickCounts[event.itemID!, default: 0] += 1
            }
        }
        // Zipf: the most clicked item gets far more clicks than the median one.
        let counts = clickCounts.values.sorted(by: >)
        #expect(counts[0] > 4 * counts[counts.count / 2])
    }

    @Test func catalogueEventsDescribeEveryItem() throws {
        var generator = SessionGenerator(seed: 3, itemsPerCategory: 10, startMilliseconds: 0)
        let events = generator.catalogueEvents()
        #expect(events.count == SessionGenerator.categories.count * 10)
        #expect(events.allSatisfy { $0.type == "item" && $0.title != nil && $0.category != nil && $0.userID == nil })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(events[0].jsonBytes())) as? [String: Any])
        #expect(json["user_id"] == nil)
        #expect(json["item_id"] as? String == events[0].itemID)
    }

    @Test func largeCataloguesKeepOneIDPerItem() {
        let generator = SessionGenerator(seed: 7, users: 10, itemsPerCategory: 2_000, startMilliseconds: 0)
        #expect(Set(generator.catalogue.map(\.itemID)).count == SessionGenerator.categories.count * 2_000)
        #expect(SessionGenerator(seed: 7, itemsPerCategory: 40, startMilliseconds: 0).catalogue[40].itemID == "sku-1000")
    }
}
