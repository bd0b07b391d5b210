import Foundation
import Testing
@testable import StreamRecEngine

/// `item` events with `available: false` take an item out of every recommendation until `available: true`.
@Suite struct AvailabilityTests {
    /// Users who view a, b and c in turn: each is the others' co-occurrence neighbour and all are popular.
    static func engineWithNeighbours() -> RecommendationEngine {
        var engine = RecommendationEngine()
        for user in 0..<20 {
            for (step, item) in ["a", "b", "c"].enumerated() {
                engine.apply(Make.click("u\(user)", item, at: Double(user * 10 + step)))
            }
        }
        engine.apply(Make.click("probe", "a", at: 300))
        return engine
    }

    @Test func anUnavailableItemIsNeverRecommendedAndComesBackWhenAvailable() {
        var engine = Self.engineWithNeighbours()
        #expect(engine.ids(for: "probe").contains("b"))
        #expect(engine.ids(for: "stranger").contains("b"), "popular fill")

        engine.apply(Event(type: .item, itemID: "b", available: false, timestampMilliseconds: Make.origin + 301_000))
        for filters in [RecommendationFilters.none, RecommendationFilters(), RecommendationFilters(diversity: 0.5)] {
            #expect(!engine.ids(for: "probe", filters: filters).contains("b"))
            #expect(!engine.ids(for: "stranger", filters: filters).contains("b"))
        }
        #expect(engine.ids(for: "probe").contains("c"))

        // Metadata without `available` leaves it out; `available: true` puts it back.
        engine.apply(Make.item("b", title: "boots", at: 302))
        #expect(!engine.ids(for: "probe").contains("b"))
        engine.apply(Event(type: .item, itemID: "b", available: true, timestampMilliseconds: Make.origin + 303_000))
        #expect(engine.ids(for: "probe").contains("b"))
    }

    @Test func availabilitySurvivesASnapshot() throws {
        var engine = Self.engineWithNeighbours()
        engine.apply(Event(type: .item, itemID: "b", available: false, timestampMilliseconds: Make.origin + 301_000))
        let restored = try RecommendationEngine(snapshot: engine.snapshot())
        #expect(!restored.ids(for: "probe").contains("b"))
        #expect(restored.snapshot() == engine.snapshot())
    }

    /// A checkpoint written before availability existed (format version 1, `Resources/snapshot-v1.bin`: the
    /// engine after `Make.syntheticStream(count: 400, seed: 11, users: 30, items: 40)`) loads with every item
    /// available, into the state this build reaches from the same events.
    @Test func aVersionOneSnapshotLoadsAsTheSameState() throws {
        let url = try #require(Bundle.module.url(forResource: "snapshot-v1", withExtension: "bin", subdirectory: "Resources"))
        let old = try RecommendationEngine(snapshot: [UInt8](Data(contentsOf: url)))
        var rebuilt = RecommendationEngine()
        rebuilt.apply(Make.syntheticStream(count: 400, seed: 11, users: 30, items: 40))
        #expect(old.snapshot() == rebuilt.snapshot())
        let users = (0..<30).map { "u\($0)" }
        #expect(users.map { old.ids(for: $0) } == users.map { rebuilt.ids(for: $0) })
    }
}
