import Testing
@testable import StreamRecEngine

/// The flat session store and the reusable hash index that recommend relies on, against plain models.
@Suite struct RecommendBuffersTests {
    /// Random opens, adds and removals against a model of arrays: every live session keeps its latest distinct
    /// items in first-touch order, and a store rebuilt from its lists is equal (no stale entries left behind).
    @Test func sessionStoreAgreesWithAModelOfArrays() {
        let capacity = 7
        let limit = 4
        var store = SessionStore(capacity: capacity, itemsPerSession: limit)
        var model: [UInt32: (items: [Int32], time: Int64)] = [:]
        var open: [UInt32] = []
        var random = SplitMix64(seed: 11)
        for time in Int64(0)..<3_000 {
            let roll = random.next(below: 10)
            if roll == 0 || open.isEmpty {
                let serial = store.open(at: time)
                open.append(serial)
                model[serial] = ([], time)
                // The ring keeps the newest `capacity` sessions.
                if open.count > capacity { model[open.removeFirst()] = nil }
                continue
            }
            let serial = open[Int(random.next(below: UInt64(open.count)))]
            let item = Int32(random.next(below: 12))
            if roll == 1 {
                store.remove(item, from: serial)
                model[serial]?.items.removeAll { $0 == item }
                continue
            }
            let added = store.add(item, to: serial, at: time)
            var entry = model[serial]!
            #expect(added == !entry.items.contains(item))
            if added {
                if entry.items.count == limit { entry.items.removeFirst() }
                entry.items.append(item)
            }
            entry.time = time
            model[serial] = entry
        }
        for (serial, entry) in model {
            #expect(store.contains(serial))
            #expect(Array(store.items(of: serial)) == entry.items)
            #expect(store.header(of: serial)?.lastTimeMilliseconds == entry.time)
        }
        let rebuilt = SessionStore(capacity: capacity, itemsPerSession: limit, serials: store.serials,
                                   items: store.itemLists, lastTimes: store.lastTimes, nextSerial: store.nextSerial)
        #expect(rebuilt == store)
    }

    /// An index emptied and refilled (as recommend does for every user of a batch) finds exactly the new keys, in
    /// their insertion order, whether it was cleared bucket by bucket or wholesale.
    @Test func reusedSlotIndexFindsOnlyTheNewKeys() {
        var index = SlotIndex(expectedCount: 16)
        var random = SplitMix64(seed: 5)
        for round in 0..<200 {
            // Few keys (cleared one by one) and many (cleared wholesale), including negative ones and 0.
            let count = round % 3 == 0 ? 300 : Int(random.next(below: 6))
            var expected: [Int32] = []
            for _ in 0..<count {
                let key = Int32(truncatingIfNeeded: Int64(random.next(below: 2_000)) - 1_000)
                let (position, inserted) = index.insert(key)
                if let known = expected.firstIndex(of: key) {
                    #expect(!inserted && position == known)
                } else {
                    #expect(inserted && position == expected.count)
                    expected.append(key)
                }
            }
            #expect(Array(index.keys) == expected)
            for key in Int32(-1_000)..<1_000 { #expect(index.position(of: key) == expected.firstIndex(of: key)) }
            index.removeAll()
            #expect(index.count == 0)
        }
    }

    /// Scratch scores and candidates reused across a batch and grown far past their first capacity keep every
    /// key's sum in first-touch order, and normalising divides the source's lane by its maximum and nothing else.
    @Test func reusedScratchScoresAccumulateLikeADictionary() {
        var candidates = CandidateSet()
        var scores = SlotScores(expectedCount: 4)
        var random = SplitMix64(seed: 17)
        for round in 0..<12 {
            candidates.removeAll()
            scores.removeAll()
            var sums: [Int32: Double] = [:]
            var order: [Int32] = []
            for _ in 0..<(round % 2 == 0 ? 3_000 : 20) {
                let item = Int32(random.next(below: 5_000))
                let value = Double(random.next(below: 1_000)) / 8
                scores.add(item, value)
                let (position, isFirst) = candidates.add(item, value, from: .itemCF)
                #expect(isFirst == (sums[item] == nil))
                if sums[item] == nil { order.append(item) }
                sums[item, default: 0] += value
                #expect(candidates.items[position] == item)
            }
            candidates.normalise(.itemCF)
            // The next source starts after the previous one is normalised (as recommend does).
            candidates.add(order[0], 1, from: .recent)
            candidates.normalise(.recent)
            let maximum = sums.values.max() ?? 0
            #expect(Array(scores.keys) == order)
            #expect(Array(candidates.items) == order)
            for (position, item) in order.enumerated() {
                #expect(scores.score(of: item) == sums[item])
                #expect(scores.scores[position] == sums[item])
                let lanes = candidates.values[position].scores
                #expect(lanes[Source.itemCF.rawValue] == sums[item]! / maximum)
                #expect(lanes[Source.recent.rawValue] == (position == 0 ? 1 : 0))
            }
            #expect(scores.score(of: 5_001) == nil && candidates.position(of: 5_001) == nil)
        }
    }

    /// The four-at-a-time cosines (pending IVF items) equal the one-at-a-time cosine bit for bit, for the
    /// engine's 32 dimensions, lengths that are not a multiple of 4, zero vectors and mismatched lengths.
    @Test func fourCosinesAtOnceEqualOneAtATime() {
        var random = SplitMix64(seed: 11)
        func vector(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.nextUnit() * 2 - 1) } }
        for dimensions in [32, 7, 4, 1] {
            for round in 0..<100 {
                var unit = vector(dimensions)
                VectorMath.normalize(&unit)
                var others = (0..<4).map { _ in vector(dimensions) }
                if round % 10 == 0 { others[1] = [Float](repeating: 0, count: dimensions) }
                if round % 10 == 1 { others[2] = [] }
                let together = VectorMath.cosines(unit: unit, others[0], others[1], others[2], others[3])
                for lane in 0..<4 {
                    #expect(together[lane].bitPattern == VectorMath.cosine(unit: unit, others[lane]).bitPattern)
                }
            }
        }
    }

    /// Live-slot bits answer exactly as the names do, through touches, evictions and a restore.
    @Test func liveBitsFollowTheNames() {
        var table = SlotTable()
        var random = SplitMix64(seed: 13)
        func expectLivenessMatchesNames(_ table: SlotTable) {
            for slot in -1...table.slotCount {
                let named = slot >= 0 && slot < table.slotCount && !table.names[slot].isEmpty
                #expect(table.isLive(Int32(slot)) == named)
            }
        }
        for step in 0..<5_000 {
            _ = table.touch("i\(random.next(below: 400))", capacity: 150)
            if step % 7 == 0, let oldest = table.leastRecentlyUsed { table.remove(oldest) }
            if step % 500 == 0 { expectLivenessMatchesNames(table) }
        }
        expectLivenessMatchesNames(table)
        let restored = SlotTable.restore(
            names: table.names, freeSlots: table.freeSlots, recencyOrder: table.slotsInRecencyOrder)
        #expect(restored != nil)
        if let restored { expectLivenessMatchesNames(restored) }
    }
}
