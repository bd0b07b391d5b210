import Testing
@testable import StreamRecEngine

@Suite struct DecayTests {
    @Test func exp2IsAccurate() {
        #expect(abs(exp2(0.5) - 1.414_213_562_373_095) < 1e-12)
        #expect(exp2(10) == 1024)
        #expect(abs(exp2(-3.25) - 0.105_112_051_906_714_3) < 1e-12)
        #expect(abs(log2(1000) - 9.965_784_284_662_087) < 1e-9)
    }

    @Test func forwardDecayDoublesPerHalfLife() {
        var clock = ForwardDecay(halfLifeSeconds: 60)
        let start = clock.weight(at: 1_000_000)
        #expect(start == 1)
        #expect(clock.weight(at: 1_060_000) == 2)
        #expect(clock.weight(at: 1_030_000) > 1.41 && clock.weight(at: 1_030_000) < 1.42)
        // A value stored at the reference is worth half one half-life later.
        #expect(abs(clock.value(8, at: 1_060_000) - 4) < 1e-9)
        let factor = clock.rebase(to: 1_120_000)
        #expect(factor == 0.25)
        #expect(clock.weight(at: 1_120_000) == 1)
    }

    @Test func popularityDecaysOnEventTime() {
        var configuration = EngineConfiguration().restricted(to: .popular)
        configuration.decay.popularityHalfLifeSeconds = 3600
        var engine = RecommendationEngine(configuration: configuration)
        for user in 0..<4 { engine.apply(Make.click("a\(user)", "old", at: 0)) }
        // One half-life later: old is worth 4/2 = 2 > 1.
        engine.apply(Make.click("b", "new", at: 3600))
        #expect(engine.ids(for: "nobody", k: 2) == ["old", "new"])
        // Three half-lives after the old clicks: old is worth 4/8 = 0.5 < new's 1 (decayed one half-life: 0.5 + 1).
        engine.apply(Make.click("c", "new", at: 3 * 3600 + 1))
        #expect(engine.ids(for: "nobody", k: 2) == ["new", "old"])
    }

    @Test func interestVectorHalvesPerHalfLife() {
        var user = UserState()
        user.addInterest([1, 0], weight: 1, at: 0, halfLifeSeconds: 10)
        user.addInterest([0, 1], weight: 1, at: 10_000, halfLifeSeconds: 10)
        #expect(abs(user.interest[0] - 0.5) < 1e-6)
        #expect(user.interest[1] == 1)
    }
}

@Suite struct CoOccurrenceTests {
    @Test func countsPairsByDistanceAndDirection() {
        var engine = RecommendationEngine()
        engine.apply([Make.click("u", "a", at: 0), Make.click("u", "b", at: 1), Make.click("u", "c", at: 2),
                      Make.click("u", "a", at: 3)])
        func weight(_ from: String, _ to: String) -> Float {
            engine.items[Int(engine.itemTable.slot(of: from)!)].neighbours.weight(of: engine.itemTable.slot(of: to)!)
        }
        // a→b→c→a, all clicks: the pair (x then y at distance d) adds 1/d to x→y and 1/(2d) to y→x.
        #expect(abs(weight("a", "b") - (1 + 0.25)) < 1e-5)
        #expect(abs(weight("a", "c") - (0.5 + 0.5)) < 1e-5)
        #expect(abs(weight("b", "a") - (0.5 + 0.5)) < 1e-5)
        #expect(abs(weight("c", "a") - (0.25 + 1)) < 1e-5)
        #expect(abs(weight("b", "c") - 1) < 1e-5)
        #expect(abs(weight("c", "b") - 0.5) < 1e-5)
        #expect(abs(engine.items[Int(engine.itemTable.slot(of: "a")!)].occurrence - 2) < 1e-5)
    }

    @Test func pairsBeyondTheGapAreNotCounted() {
        var engine = RecommendationEngine()
        engine.apply([Make.click("u", "a", at: 0), Make.click("u", "b", at: 7200)])
        #expect(engine.items[Int(engine.itemTable.slot(of: "a")!)].neighbours.entries.isEmpty)
    }

    @Test func spaceSavingKeepsHeavyKeysWithinCapacity() {
        var counters = SpaceSavingCounters()
        counters.add(1, weight: 3, capacity: 2)
        counters.add(2, weight: 1, capacity: 2)
        counters.add(3, weight: 1, capacity: 2)
        #expect(counters.entries.count == 2)
        #expect(counters.weight(of: 1) == 3)
        #expect(counters.weight(of: 3) == 2)
        #expect(counters.weight(of: 2) == 0)
    }

    /// The sorted, block-searched counters keep exactly the counts of the plain algorithm (evict the smallest,
    /// ties to the larger key, inherit its weight) over a long random stream with many evictions.
    @Test func spaceSavingMatchesTheReferenceAlgorithm() {
        var counters = SpaceSavingCounters()
        var reference: [Int32: Float] = [:]
        var state: UInt64 = 7
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let key = Int32((state >> 33) % 90) - 45
            let weight = Float((state >> 20) % 4 + 1) / 2
            counters.add(key, weight: weight, capacity: 40)
            Self.spaceSavingAdd(key, weight: weight, capacity: 40, to: &reference)
        }
        #expect(counters.entries.map(\.key) == reference.keys.sorted())
        for (key, weight) in reference { #expect(counters.weight(of: key) == weight) }
        counters.remove(reference.keys.sorted()[17])
        #expect(counters.entries.count == 39 && counters.entries.map(\.key) == counters.entries.map(\.key).sorted())
    }

    /// Space-Saving as written down: a new key past `capacity` replaces the smallest counter (ties: the larger key)
    /// and starts from its count.
    static func spaceSavingAdd(_ key: Int32, weight: Float, capacity: Int, to reference: inout [Int32: Float]) {
        if let current = reference[key] {
            reference[key] = current + weight
        } else if reference.count < capacity {
            reference[key] = weight
        } else {
            let smallest = reference.min { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!
            reference[smallest.key] = nil
            reference[key] = smallest.value + weight
        }
    }

    /// Lists of many blocks of 8 (a lookup counts every 8th key first), with removals in between: lookups still
    /// find every key and new keys land in order, as the plain algorithm has them.
    @Test func longSpaceSavingListsWithRemovalsMatchTheReferenceAlgorithm() {
        var counters = SpaceSavingCounters()
        var reference: [Int32: Float] = [:]
        var state: UInt64 = 11
        for step in 0..<30_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let key = Int32((state >> 33) % 400) - 100
            if step % 7 == 0 {
                counters.remove(key)
                reference[key] = nil
                continue
            }
            let weight = Float((state >> 20) % 4 + 1) / 2
            counters.add(key, weight: weight, capacity: 170)
            Self.spaceSavingAdd(key, weight: weight, capacity: 170, to: &reference)
            if step % 1000 == 999 {
                #expect(counters.entries.map(\.key) == reference.keys.sorted())
                for key in -100..<300 { #expect(counters.weight(of: Int32(key)) == reference[Int32(key)] ?? 0) }
            }
        }
        #expect(counters.entries.count == 170)
        // A restored list (as from a snapshot) answers the same.
        let restored = SpaceSavingCounters(entries: counters.entries.reversed())
        #expect(restored == counters)
        for key in -100..<300 { #expect(restored.weight(of: Int32(key)) == counters.weight(of: Int32(key))) }
    }

    @Test func coOccurrenceRecommendsWhatOthersDidNext() {
        var engine = RecommendationEngine(configuration: EngineConfiguration().restricted(to: .itemcf))
        for user in 0..<5 { engine.apply([Make.click("u\(user)", "phone", at: Double(user)), Make.click("u\(user)", "case", at: Double(user) + 1)]) }
        engine.apply([Make.click("x", "other", at: 10), Make.click("x", "case", at: 11)])
        engine.apply(Make.click("new", "phone", at: 20))
        let top = engine.recommend(userID: "new", k: 1, filters: .none)
        #expect(top.first?.itemID == "case")
        #expect(top.first?.reasons.first == Reason(kind: "co_click", itemID: "phone"))
    }
}

@Suite struct TextNormalizerTests {
    @Test func asciiFastPathSplitsLikeTheUnicodePath() {
        // Every ASCII byte inside and between words, in upper and lower case: a byte the fast path classifies
        // differently from Unicode's properties would change query keys and text vectors.
        let everyASCII = String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self)
        let texts = [everyASCII, "Trail RUNNING shoes-42!", "  a\tB\nc  ", "", "x", "iPhone15 Pro/Max_2"]
        for text in texts {
            var copy = text
            let fast = copy.withUTF8 { TextNormalizer.asciiWords(of: $0) }
            #expect(fast == TextNormalizer.unicodeWords(of: text), "\(text.debugDescription)")
        }
        #expect(TextNormalizer.normalizedQuery("Trail  Shoes!") == "trail shoes")
    }

    @Test func nonASCIITextTakesTheUnicodePath() {
        var text = "Café Über 42"
        #expect(text.withUTF8 { TextNormalizer.asciiWords(of: $0) } == nil)
        #expect(TextNormalizer.normalizedQuery(text) == "café über 42")
    }
}
