import Testing
@testable import StreamRecEngine

/// The chunked containers the engine's state lives in: copies behave as values (a checkpoint's copy never sees
/// later events), while a copy shares all chunks until one side writes.
@Suite struct ChunkedStorageTests {
    private let perChunk = ChunkedArray<Int>.elementsPerChunk

    @Test func chunksHoldAbout4KB() {
        #expect(ChunkedArray<UInt8>.elementsPerChunk == 512)
        #expect(ChunkedArray<UInt64>.elementsPerChunk == 512)
        #expect(ChunkedArray<String>.elementsPerChunk == 256)
        #expect(ChunkedArray<(Int64, Int64, Int64)>.elementsPerChunk == 128)
        #expect(ChunkedArray<InlineArray<1000, UInt64>>.elementsPerChunk == 16)
    }

    @Test func appendsAcrossChunkBoundaries() {
        var array = ChunkedArray<Int>()
        let count = perChunk * 3 + 5
        for value in 0..<count { array.append(value * 10) }
        #expect(array.count == count)
        #expect(array.chunkCount == 4)
        #expect(Array(array) == (0..<count).map { $0 * 10 })
        #expect(array[perChunk - 1] == (perChunk - 1) * 10 && array[perChunk] == perChunk * 10)
        array.removeAll()
        #expect(array.isEmpty && array.chunkCount == 0)
    }

    /// A list made with `repeating:` ends in a partly filled chunk that appends and copies must respect.
    @Test func appendsAfterARepeatedPrefixAndCopiesIt() {
        var array = ChunkedArray(repeating: 7, count: perChunk + 3)
        for value in 0..<5 { array.append(value) }
        var copy = array
        copy[perChunk + 4] = -1
        copy.append(99)
        #expect(Array(array) == Array(repeating: 7, count: perChunk + 3) + Array(0..<5))
        #expect(Array(copy) == Array(repeating: 7, count: perChunk + 3) + [0, -1, 2, 3, 4, 99])
        #expect(ChunkedArray(repeating: 1, count: 0).isEmpty)
    }

    @Test func aWrittenCopyLeavesTheOriginalUnchanged() {
        let perChunk = ChunkedArray<[Int]>.elementsPerChunk
        let original = ChunkedArray((0..<(perChunk * 2 + 3)).map { [$0] })
        var copy = original
        copy[1].append(-1)
        copy[perChunk + 1] = []
        copy.append([99])
        #expect(Array(original) == (0..<(perChunk * 2 + 3)).map { [$0] })
        #expect(copy[1] == [1, -1] && copy[perChunk + 1] == [] && copy.last == [99])
        #expect(copy.count == original.count + 1)
    }

    @Test func writingTheOriginalLeavesACopyUnchanged() {
        var original = ChunkedArray(0..<(perChunk + 1))
        let copy = original
        original[0] = -5
        original.append(7)  // into the shared last chunk
        for position in original.indices { original[position] += 1 }
        #expect(Array(copy) == Array(0..<(perChunk + 1)))
        #expect(original[0] == -4 && original.last == 8)
    }

    /// A write copies only the chunk it lands in, and nothing at all when no copy shares it.
    @Test func writesCopyOnlyASharedChunk() {
        var original = ChunkedArray(0..<(perChunk * 3))
        let first = original.storageIdentifier(ofChunkHolding: 0)
        original[1] = 100
        #expect(original.storageIdentifier(ofChunkHolding: 0) == first)
        var copy = original
        copy[perChunk + 2] = -1
        #expect(copy.storageIdentifier(ofChunkHolding: perChunk) != original.storageIdentifier(ofChunkHolding: perChunk))
        #expect(copy.storageIdentifier(ofChunkHolding: 0) == first)
        #expect(copy.storageIdentifier(ofChunkHolding: perChunk * 2) == original.storageIdentifier(ofChunkHolding: perChunk * 2))
        // Once the copy is gone the original is the only owner again: writes stay in place.
        copy = ChunkedArray()
        original[2] = 200
        #expect(original.storageIdentifier(ofChunkHolding: 0) == first)
        #expect(original[1] == 100 && original[2] == 200 && original[perChunk + 2] == perChunk + 2)
    }

    @Test func aCopiedSessionStoreKeepsItsSessions() {
        var store = SessionStore(capacity: 500, itemsPerSession: 4)
        var serials: [UInt32] = []
        for time in Int64(0)..<300 {
            let serial = store.open(at: time)
            serials.append(serial)
            _ = store.add(Int32(time % 17), to: serial, at: time)
        }
        let copy = store
        let lists = copy.itemLists
        for (index, serial) in serials.enumerated() {
            _ = store.add(Int32(1000 + index), to: serial, at: 10_000)
            if index % 3 == 0 { store.remove(Int32(index % 17), from: serial) }
        }
        for time in Int64(0)..<300 { _ = store.open(at: 20_000 + time) }  // wraps the ring over old slots
        #expect(copy.itemLists == lists)
        #expect(copy.serials == serials)
        #expect(copy.lastTimes == (0..<300).map { Int64($0) })
        #expect(copy != store)
        #expect(Array(copy.items(of: serials[5])) == [5])
    }
}

@Suite struct EngineCopyTests {
    private let events = Make.syntheticStream(count: 6000, seed: 3)

    private func recommendations(_ engine: RecommendationEngine) -> [[Recommendation]] {
        (0..<60).map { engine.recommend(userID: "u\($0)", k: 10) }
    }

    /// What a checkpoint relies on: the copy handed to the writer keeps the state of the moment it was taken
    /// while the loop goes on applying events, and the loop's engine ends where one without a copy would.
    @Test func aCopyStaysUnchangedWhileTheOriginalApplies() {
        var engine = RecommendationEngine()
        engine.apply(Array(events[..<3000]))
        let copy = engine
        let bytes = copy.snapshot()
        let lists = recommendations(copy)
        engine.apply(Array(events[3000...]))
        #expect(copy.snapshot() == bytes)
        #expect(recommendations(copy) == lists)
        var uncopied = RecommendationEngine()
        uncopied.apply(events)
        #expect(engine.snapshot() == uncopied.snapshot())
        #expect(recommendations(engine) == recommendations(uncopied))
    }

    @Test func theOriginalStaysUnchangedWhileACopyApplies() {
        var engine = RecommendationEngine()
        engine.apply(Array(events[..<3000]))
        let bytes = engine.snapshot()
        let lists = recommendations(engine)
        var copy = engine
        copy.apply(Array(events[3000...]))
        #expect(engine.snapshot() == bytes)
        #expect(recommendations(engine) == lists)
        #expect(copy.snapshot() != bytes)
    }
}
