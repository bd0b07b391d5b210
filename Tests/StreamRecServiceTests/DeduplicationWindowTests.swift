import Testing
@testable import StreamRecService

@Suite struct DeduplicationWindowTests {
    func insert(_ id: String, into window: inout DeduplicationWindow) -> Bool { window.insert(id) }

    @Test func dropsRepeatsWithinTheWindowAndForgetsTheOldest() {
        var window = DeduplicationWindow(capacity: 3)
        #expect(insert("a", into: &window))
        #expect(insert("b", into: &window))
        #expect(!insert("a", into: &window))
        #expect(insert("c", into: &window))
        #expect(insert("d", into: &window))  // forgets "a"
        #expect(window.recent == ["b", "c", "d"])
        #expect(insert("a", into: &window))
        #expect(!insert("d", into: &window))
        #expect(window.recent == ["c", "d", "a"])
    }

    @Test func restoredWindowBehavesLikeTheOriginal() {
        var original = DeduplicationWindow(capacity: 100)
        for index in 0..<250 { _ = original.insert("e\(index % 180)") }
        var restored = DeduplicationWindow(capacity: 100, recent: original.recent)
        #expect(restored.recent == original.recent)
        for index in 0..<300 {
            let id = "e\((index * 7) % 400)"
            let isNewToRestored = restored.insert(id)
            #expect(isNewToRestored == original.insert(id))
        }
    }

    @Test func zeroCapacityKeepsEverything() {
        var window = DeduplicationWindow(capacity: 0)
        #expect(insert("a", into: &window))
        #expect(insert("a", into: &window))
        #expect(window.count == 0)
    }
}
