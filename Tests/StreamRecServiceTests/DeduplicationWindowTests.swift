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

    /// Against a plain model (array of the last `capacity` ids) over a long run with many repeats, so ids are
    /// forgotten from every position of crowded probe runs.
    @Test func matchesAPlainModelOverALongRun() {
        for capacity in [1, 2, 7, 64] {
            var window = DeduplicationWindow(capacity: capacity)
            var model: [String] = []
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            for _ in 0..<20_000 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let id = "e\((state >> 33) % UInt64(3 * capacity + 1))"
                let isNew = !model.contains(id)
                if isNew {
                    model.append(id)
                    if model.count > capacity { model.removeFirst() }
                }
                #expect(window.insert(id) == isNew)
            }
            #expect(window.recent == model)
        }
    }

    @Test func zeroCapacityKeepsEverything() {
        var window = DeduplicationWindow(capacity: 0)
        #expect(insert("a", into: &window))
        #expect(insert("a", into: &window))
        #expect(window.count == 0)
    }
}
