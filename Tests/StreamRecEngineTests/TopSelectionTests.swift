import Testing
@testable import StreamRecEngine

/// The selections recommend uses instead of sorted top lists, against sorting and against the lists they replace.
@Suite struct TopSelectionTests {
    /// The selected front is exactly the first k of a full sort (score descending, ties by key), for sizes around
    /// the partition cut-off, many tied scores, repeated entries and k from 0 past the count.
    @Test func selectingTheBestEqualsSortingAll() {
        var random = SplitMix64(seed: 23)
        for round in 0..<400 {
            let count = [0, 1, 5, 16, 17, 40, 300, 700][round % 8]
            // Few distinct scores (ties decided by key) in half the rounds.
            let distinctScores = round % 2 == 0 ? 4 : 1_000_000
            var entries = (0..<count).map { _ in
                ScoredKey(key: Int32(random.next(below: 5_000)), score: Double(random.next(below: UInt64(distinctScores))))
            }
            if count > 3 { entries[count - 1] = entries[0] }  // the same entry twice
            let sorted = entries.sorted { $0.precedes($1) }
            for k in [0, 1, 7, 50, count, count + 3] {
                var selected = entries
                let taken = selected.withUnsafeMutableBufferPointer { $0.selectBest(k) }
                #expect(taken == min(k, count))
                let front = selected.prefix(taken)
                #expect(front.map(\.key) == sorted.prefix(taken).map(\.key))
                #expect(front.map(\.score) == sorted.prefix(taken).map(\.score))
                // Nothing lost: the same entries, reordered.
                #expect(selected.map(\.key).sorted() == entries.map(\.key).sorted())
            }
        }
    }

    /// With a small catalogue cap, evicted items' slots are reused and listed twice in the semantic index; the
    /// semantic list is still the one a sorted top list fed in scan order gives (an item kept once, at the score
    /// of the offer that stayed).
    @Test func semanticListMatchesTheScanOrderListWhenSlotsAreListedTwice() {
        var configuration = EngineConfiguration().restricted(to: .semantic)
        configuration.capacity.maxItems = 120
        configuration.semantic.candidates = 20
        var engine = RecommendationEngine(configuration: configuration)
        let words = ["red", "blue", "shoe", "jacket", "trail", "running", "denim", "wool", "sock", "hat"]
        var random = SplitMix64(seed: 29)
        for index in 0..<2_000 {
            let title = (0..<3).map { _ in words[Int(random.next(below: 10))] }.joined(separator: " ")
            engine.apply(Make.item("i\(random.next(below: 400))", title: title, at: Double(index)))
            if index % 10 == 0 {
                engine.apply(Make.click("u\(random.next(below: 30))", "i\(random.next(below: 400))", at: Double(index)))
            }
        }
        let index = engine.semanticIndex
        let listed = index.lists.flatMap { $0 } + index.pending
        #expect(Set(listed).count < listed.count, "the index lists some slot twice")

        for user in 0..<30 {
            guard let slot = engine.userTable.slot(of: "u\(user)") else { continue }
            var interest = engine.users[Int(slot)].interest
            VectorMath.normalize(&interest)
            guard VectorMath.norm(interest) > 0 else { continue }
            var best = TopScores<Int32>(capacity: configuration.semantic.candidates)
            index.search(interest, probes: configuration.semantic.probes,
                         scanLimit: configuration.semantic.maxScannedItems, pendingVectors: nil,
                         pendingVector: { engine.items[Int($0)].vector }) { item, similarity in
                guard engine.itemTable.isLive(item), !best.entries.contains(where: { $0.key == item }) else { return }
                best.offer(item, similarity)
            }
            let expected = best.entries.sorted {
                $0.score != $1.score ? $0.score > $1.score
                    : engine.itemTable.names[Int($0.key)] < engine.itemTable.names[Int($1.key)]
            }
            let top = engine.recommend(userID: "u\(user)", k: configuration.semantic.candidates, filters: .none)
            let semantic = top.filter { $0.score > 0 }
            #expect(semantic.map(\.itemID) == expected.map { engine.itemTable.names[Int($0.key)] })
        }
    }
}

extension TopSelectionTests {
    /// The heap keeps exactly the entries, in the same order, as the sorted top list, and its weakest is that
    /// list's last entry after every offer (the bar the semantic scan prunes against).
    @Test func topHeapKeepsWhatTheSortedListKeeps() {
        var random = SplitMix64(seed: 31)
        for round in 0..<200 {
            let capacity = [0, 1, 2, 7, 100][round % 5]
            var heap = TopHeap<Int64>(capacity: capacity)
            var list = TopScores<Int64>(capacity: capacity)
            // Distinct keys, few distinct scores in half the rounds (ties decided by key).
            var keys = Array(Int64(-300)..<300)
            for index in keys.indices.reversed() { keys.swapAt(index, Int(random.next(below: UInt64(index + 1)))) }
            var offered: [(key: Int64, score: Double)] = []
            for key in keys.prefix(Int(random.next(below: 600))) {
                let score = Double(random.next(below: round % 2 == 0 ? 5 : 1_000_000))
                offered.append((key, score))
                heap.offer(key, score)
                list.offer(key, score)
                #expect(heap.isFull == (list.entries.count == capacity))
                #expect(heap.weakest?.key == list.entries.last?.key)
                #expect(heap.contains(key) == list.entries.contains { $0.key == key })
            }
            let sorted = Array(heap.sortInPlace())
            #expect(sorted.map(\.key) == list.entries.map(\.key))
            #expect(sorted.map(\.score) == list.entries.map(\.score))
            // Emptied and offered the same again (the next call of a batch reuses the heap): the same selection.
            heap.removeAll()
            #expect(heap.weakest == nil && heap.isFull == (capacity == 0))
            for entry in offered { heap.offer(entry.key, entry.score) }
            #expect(Array(heap.sortInPlace()).map(\.key) == list.entries.map(\.key))
        }
    }
}

extension TopSelectionTests {
    /// Pending vectors read once into a block give the same offers, in the same order and bit for bit, as reading
    /// each vector per search; items without a vector offer nothing; a vector of another length falls back.
    @Test func pendingVectorBlockScoresLikeTheVectorsThemselves() {
        var random = SplitMix64(seed: 37)
        for dimensions in [32, 7] {
            var index = SemanticIndex(dimensions: dimensions)
            var vectors: [Int32: [Float]] = [:]
            for item in Int32(0)..<203 {
                index.addPending(item)
                vectors[item] = item % 17 == 0 ? [] : (0..<dimensions).map { _ in Float(random.nextUnit() * 2 - 1) }
            }
            let block = index.pendingVectors { vectors[$0]! }
            #expect(block != nil)
            for _ in 0..<20 {
                var query = (0..<dimensions).map { _ in Float(random.nextUnit() * 2 - 1) }
                VectorMath.normalize(&query)
                var perItem: [(Int32, UInt64)] = []
                var fromBlock: [(Int32, UInt64)] = []
                index.search(query, probes: 4, scanLimit: 512, pendingVectors: nil, pendingVector: { vectors[$0]! }) {
                    perItem.append(($0, $1.bitPattern))
                }
                index.search(query, probes: 4, scanLimit: 512, pendingVectors: block, pendingVector: { vectors[$0]! }) {
                    fromBlock.append(($0, $1.bitPattern))
                }
                #expect(!perItem.isEmpty)
                #expect(fromBlock.map(\.0) == perItem.map(\.0) && fromBlock.map(\.1) == perItem.map(\.1))
            }
            vectors[5] = [1, 2]
            #expect(index.pendingVectors { vectors[$0]! } == nil)
        }
    }
}

extension TopSelectionTests {
    /// The trending ranking cut at a limit is the full ranking's prefix; a single call (which ranks only a prefix)
    /// still fills past it in the full order when filters deny the whole prefix.
    @Test func trendingPrefixIsTheFullRankingsPrefix() {
        var engine = RecommendationEngine()
        engine.apply(Make.syntheticStream(count: 4_000, users: 80, items: 400))
        let full = engine.rankedTrending()
        #expect(full.count > 100)
        for limit in [0, 1, 50, 99, full.count - 1, full.count, full.count + 5] {
            #expect(engine.rankedTrending(limit: limit) == Array(full.prefix(limit)))
        }
        let names = engine.itemTable.names
        let filters = RecommendationFilters(denyItems: Set(full.prefix(60).map { names[Int($0)] }))
        for user in ["u1", "u2", "nobody"] {
            let single = engine.recommend(userID: user, k: 5, filters: filters)
            #expect(single == engine.recommend(userIDs: [user], k: 5, filters: filters)[0])
            #expect(single.count == 5 && single.allSatisfy { !filters.denyItems.contains($0.itemID) })
        }
        let unknown = engine.recommend(userID: "nobody", k: 5, filters: filters).map(\.itemID)
        #expect(unknown == full.dropFirst(60).prefix(5).map { names[Int($0)] })
    }
}
