/// e^x through the engine's pure-Swift 2^x (identical results on every platform).
@inline(__always) func exponential(_ x: Double) -> Double { exp2(x * 1.442_695_040_888_963_4) }

/// The candidate sources, in blend order.
enum Source: Int, CaseIterable {
    case recent, sessionNeighbours, itemCF, query, semantic, popular

    /// The number of sources (score lanes in use); computed, so hot loops need no lazy global.
    static var count: Int { popular.rawValue + 1 }
}

/// A candidate's per-source scores (each normalised to [0, 1] within its source) and reason details.
struct Candidate: BitwiseCopyable {
    /// One lane per `Source` (inline storage: no allocation per candidate).
    var scores = SIMD8<Double>()
    /// Bit `Source.rawValue` set once that source scored the candidate.
    var sources: UInt8 = 0
    /// The strongest seed item (contribution, then the seed) among the co-occurrence contributions.
    var coOccurrenceContribution = 0.0
    var coOccurrenceSeed: Int32 = -1
    var coOccurrenceSeedType = EventType.click
    /// The strongest query among the query-click contributions.
    var queryContribution = 0.0
    var querySeed: Int32 = -1
}

extension RecommendationEngine {
    /// The top `k` items for a user now ("now" = the user's latest event time), best first.
    ///
    /// Candidates come from the session's own recent items, similar recent sessions, co-occurrence neighbours of
    /// the recent items, items clicked after the user's recent searches, the nearest items to the interest vector
    /// and popularity; each source is normalised to [0, 1] and blended with ``EngineConfiguration/blend``. Unknown
    /// users get popular items. Ties rank by item id.
    /// - Parameters:
    ///   - userID: the user.
    ///   - sessionID: the session to recommend for; nil = the user's latest session.
    ///   - k: how many items at most.
    ///   - filters: exclusions and diversity.
    /// - Complexity: O(session items · sessionsPerItem + neighbours · itemsPerSession + seeds · countersPerItem +
    ///   √items · dimensions); independent of the number of users and events.
    public func recommend(
        userID: String, sessionID: String? = nil, k: Int, filters: RecommendationFilters = RecommendationFilters()
    ) -> [Recommendation] {
        var scratch = RecommendScratch(configuration: configuration)
        // One call reads the ranked trending list only as far as the popular source does (the rest only if the
        // fill runs past it): ranking all of it was 4 % of a call.
        let read = max(min(k, max(itemCount, 1)) * 2, 50)
        return recommend(userID: userID, sessionID: sessionID, k: k, filters: filters,
                         trendingRanked: rankedTrending(limit: read), scratch: &scratch)
    }

    /// ``recommend(userID:sessionID:k:filters:)`` for each user in turn (their latest sessions), sharing the
    /// work that does not depend on the user (ranking the trending list) and the call's buffers; same results as
    /// one call each.
    public func recommend(
        userIDs: some Sequence<String>, k: Int, filters: RecommendationFilters = RecommendationFilters()
    ) -> [[Recommendation]] {
        let trending = rankedTrending()
        var scratch = RecommendScratch(configuration: configuration)
        if configuration.blend.semantic > 0 {
            scratch.pendingVectors = semanticIndex.pendingVectors { items[Int($0)].vector }
        }
        var lists: [[Recommendation]] = []
        for userID in userIDs {
            lists.append(recommend(userID: userID, sessionID: nil, k: k, filters: filters, trendingRanked: trending,
                                   scratch: &scratch))
        }
        return lists
    }

    /// - Parameters:
    ///   - trendingRanked: ``rankedTrending(limit:)`` of this state, with a limit of at least max(2k, 50).
    ///   - scratch: buffers, emptied here before use.
    private func recommend(
        userID: String, sessionID: String?, k: Int, filters: RecommendationFilters, trendingRanked: [Int32],
        scratch: inout RecommendScratch
    ) -> [Recommendation] {
        guard k > 0 else { return [] }
        // No list can be longer than the catalogue; the clamp also keeps `k * 5` below from overflowing.
        let k = min(k, max(itemCount, 1))
        scratch.candidates.removeAll()
        let blend = configuration.blend
        let user = userTable.slot(of: userID)
        if let user {
            let state = users[Int(user)]
            let serial = currentSession(of: state, sessionID: sessionID)
            if blend.recent > 0 {
                addRecent(state, session: serial, decay: scratch.recentDecay, scores: &scratch.recentScores,
                          into: &scratch.candidates)
            }
            if blend.sessionNeighbours > 0 {
                addSessionNeighbours(
                    state, session: serial, positionDecay: scratch.sessionPositionDecay,
                    neighbourPositionDecay: scratch.neighbourPositionDecay, idfDivisors: &scratch.idfDivisors,
                    positionWeight: &scratch.sessionItems, shared: &scratch.sharedSessions,
                    headers: &scratch.sharedHeaders, best: &scratch.neighbourSessions, into: &scratch.candidates)
            }
            if blend.itemCF > 0 {
                addCoOccurrence(state, session: serial, decay: scratch.recentDecay, seeds: &scratch.seeds,
                                similar: &scratch.similarItems,
                                occurrences: &scratch.occurrences, into: &scratch.candidates)
            }
            if blend.query > 0 { addQueryClicks(state, into: &scratch.candidates) }
            if blend.semantic > 0 {
                addSemantic(state, pendingVectors: scratch.pendingVectors, interest: &scratch.unitInterest,
                            best: &scratch.semanticBest, offered: &scratch.semanticOffered, into: &scratch.candidates)
            }
        }
        if blend.popular > 0 { addPopular(trendingRanked.prefix(max(k * 2, 50)), into: &scratch.candidates) }

        let weights = scratch.blendWeights
        let excluded = exclusions(user: user, filters: filters)
        // Only the best `limit` are ever read: select them instead of sorting every candidate.
        var ranked = bestCandidates(scratch.candidates, weights: weights, limit: filters.diversity > 0 ? k * 5 : k) {
            isAllowed($0, excluded: excluded, filters: filters)
        }
        if filters.diversity > 0 { ranked = diversified(ranked, k: k, diversity: min(filters.diversity, 1)) }
        if ranked.count < k {
            fillWithPopular(&ranked, from: trendingRanked, k: k, excluded: excluded, filters: filters)
        }

        return ranked.prefix(k).map { entry in
            Recommendation(
                itemID: itemTable.names[Int(entry.item)], score: entry.score,
                reasons: reasons(
                    for: scratch.candidates.position(of: entry.item).map { scratch.candidates.values[$0] } ?? Candidate(),
                    weights: weights))
        }
    }

    /// The best `limit` allowed candidates with a positive blended score, best first (ties by id).
    private func bestCandidates(
        _ candidates: borrowing CandidateSet, weights: SIMD8<Double>, limit: Int, isAllowed: (Int32) -> Bool
    ) -> [(item: Int32, score: Double)] {
        let names = itemTable.names
        func precedes(_ a: (item: Int32, score: Double), _ b: (item: Int32, score: Double)) -> Bool {
            a.score != b.score ? a.score > b.score : names[Int(a.item)] < names[Int(b.item)]
        }
        var best: [(item: Int32, score: Double)] = []
        best.reserveCapacity(min(limit, candidates.items.count) + 1)
        for (position, item) in candidates.items.enumerated() {
            // The same products added in source order as one source at a time, so the same score.
            let products = weights * candidates.values[position].scores
            var score = 0.0
            for lane in 0..<Source.count { score += products[lane] }
            guard score > 0 else { continue }
            let entry = (item: item, score: score)
            if best.count == limit, !precedes(entry, best[best.count - 1]) { continue }
            guard isAllowed(item) else { continue }
            var low = 0
            var high = best.count
            while low < high {
                let middle = (low + high) / 2
                if precedes(best[middle], entry) { low = middle + 1 } else { high = middle }
            }
            if best.count == limit { best.removeLast() }  // the entry precedes it (checked above)
            best.insertShifting(entry, at: low)
        }
        return best
    }

    // MARK: - Sources

    private func currentSession(of state: UserState, sessionID: String?) -> UInt32? {
        if let sessionID {
            let hash = StableHash.fnv1a(sessionID.utf8)
            return state.sessions.last { $0.hash == hash }?.serial
        }
        return state.sessions.last?.serial
    }

    /// The session's own items (and, damped, the user's earlier ones): behaviour weight × exp(-steps back / λ).
    /// - Parameter decay: exp(-steps / recentPositionDecay) by step.
    private func addRecent(
        _ state: UserState, session: UInt32?, decay: DecayTable, scores: inout SlotScores,
        into candidates: inout CandidateSet
    ) {
        scores.removeAll()
        for (step, interaction) in state.history.reversed().enumerated() where itemTable.isLive(interaction.item) {
            let sessionFactor = interaction.session == session ? 1 : configuration.blend.otherSessionFactor
            let weight = configuration.behaviourWeights.weight(interaction.type) * sessionFactor * decay[step]
            scores.add(interaction.item, weight)
        }
        // Items of a long session that fell out of the bounded history still count, below everything remembered.
        if let session {
            let floor = (scores.scores.min() ?? 1) * decay[1]
            var older: [Int32] = []
            for item in sessions.items(of: session) where scores.score(of: item) == nil && itemTable.isLive(item) {
                older.append(item)
            }
            for (index, item) in older.enumerated() {
                scores.add(item, floor * Double(index + 1) / Double(older.count + 1))
            }
        }
        merge(scores, source: .recent, into: &candidates)
    }

    /// Session-based kNN with sequence and time awareness (in the spirit of STAN, Garg et al. 2019): recent
    /// sessions sharing the current session's items vote for their own items, weighted by how recent the shared
    /// item is in the current session, how recent the neighbour is, and how close the voted item sits to the
    /// shared one inside the neighbour.
    private func addSessionNeighbours(
        _ state: UserState, session: UInt32?, positionDecay: DecayTable, neighbourPositionDecay: DecayTable,
        idfDivisors: inout [Double], positionWeight: inout SlotScores, shared: inout SlotScores,
        headers: inout [SessionStore.Header], best: inout TopScores<Int64>, into candidates: inout CandidateSet
    ) {
        guard let session else { return }
        let settings = configuration.sessionNeighbours
        // Distinct items of the current session, most recent first, with their position weights.
        positionWeight.removeAll()
        for interaction in state.history.reversed() where interaction.session == session {
            guard positionWeight.score(of: interaction.item) == nil, itemTable.isLive(interaction.item) else { continue }
            positionWeight.add(interaction.item, positionDecay[positionWeight.count])
        }
        guard positionWeight.count > 0 else { return }

        // Every session sharing an item, keyed by the serial's bit pattern, in first-seen order with its summed
        // weights. Reading no session state here lets all candidates' headers be read back to back below
        // (independent cache misses that overlap) instead of one at a time between hash inserts and branches.
        shared.removeAll()
        for (position, item) in positionWeight.keys.enumerated() {
            var weight = positionWeight.scores[position]
            if settings.idfExponent > 0 {
                // Rare shared items say more about a neighbour than popular ones.
                let sessionsWithItem = items[Int(item)].recentSessions.count
                if sessionsWithItem >= idfDivisors.count {
                    idfDivisors.append(contentsOf: repeatElement(.nan, count: sessionsWithItem + 1 - idfDivisors.count))
                }
                if idfDivisors[sessionsWithItem].isNaN {
                    idfDivisors[sessionsWithItem] = exp2(settings.idfExponent * log2(1 + Double(sessionsWithItem)))
                }
                weight /= idfDivisors[sessionsWithItem]
            }
            for serial in items[Int(item)].recentSessions.reversed() where serial != session {
                shared.add(Int32(bitPattern: serial), weight)
            }
        }
        let now = state.lastEventMilliseconds
        let halfLife = max(settings.recencyHalfLifeSeconds, 0.001) * 1000
        // The first `sampleSize` sessions still in the store are the candidates; ties prefer the newer session:
        // keys are negated serials so "smaller key first" means newer.
        best.removeAll()
        let keys = shared.keys
        let overlaps = shared.scores
        var sampled = 0
        var chunkStart = 0
        // Headers are read in chunks of as many as could still be sampled (more only where sessions left the
        // store), so the sessions past the sample are never read.
        scan: while chunkStart < keys.count {
            let chunkEnd = min(keys.count, chunkStart + max(settings.sampleSize - sampled, 32))
            sessions.headers(ofSerials: UnsafeBufferPointer(rebasing: keys[chunkStart..<chunkEnd]), into: &headers)
            for position in chunkStart..<chunkEnd {
                let serial = UInt32(bitPattern: keys[position])
                let header = headers[position - chunkStart]
                guard serial != 0, header.serial == serial else { continue }
                sampled += 1
                if sampled > settings.sampleSize { break scan }
                let size = Double(max(header.count, 1))
                let similarity = overlaps[position] / size.squareRoot()
                // The score is similarity × recency with recency = 2^-age ≤ 1 (the margin covers rounding): skip
                // what cannot enter the full list before paying for the exponential.
                if best.entries.count == best.capacity, let weakest = best.entries.last,
                    similarity * 1.000_000_001 < weakest.score
                {
                    continue
                }
                let recency = exp2(-Double(max(0, now - header.lastTimeMilliseconds)) / halfLife)
                best.offer(-Int64(serial), similarity * recency)
            }
            chunkStart = chunkEnd
        }

        for entry in best.entries {
            let similarity = entry.score
            let neighbourItems = sessions.items(of: UInt32(-entry.key))
            // The shared item the current session touched most recently anchors the neighbour.
            var anchor = 0
            var anchorWeight = -1.0
            for (position, item) in neighbourItems.enumerated() {
                if let weight = positionWeight.score(of: item), weight > anchorWeight {
                    anchor = position
                    anchorWeight = weight
                }
            }
            for (position, item) in neighbourItems.enumerated() where itemTable.isLive(item) {
                let closeness = neighbourPositionDecay[abs(position - anchor)]
                candidates.add(item, similarity * closeness, from: .sessionNeighbours)
            }
        }
        candidates.normalise(.sessionNeighbours)
    }

    /// Item-based CF: neighbours of the user's most recent distinct items by cosine on decayed co-occurrence
    /// counts (c(i,j) / √(n(i)·n(j)), which discounts popular items), weighted by the seed's recency.
    /// - Parameters:
    ///   - decay: exp(-steps / recentPositionDecay) by step.
    ///   - seeds, similar, occurrences: buffers, emptied here before use.
    private func addCoOccurrence(
        _ state: UserState, session: UInt32?, decay: DecayTable, seeds: inout [Interaction],
        similar: inout ScratchBuffer<ScoredKey<Int32>>, occurrences: inout ScratchBuffer<Float>,
        into candidates: inout CandidateSet
    ) {
        let settings = configuration.coOccurrence
        seeds.removeAll(keepingCapacity: true)
        for interaction in state.history.reversed() where itemTable.isLive(interaction.item) {
            if seeds.count >= settings.seedItems { break }
            if !seeds.contains(where: { $0.item == interaction.item }) { seeds.append(interaction) }
        }
        for (step, seed) in seeds.enumerated() {
            let seedOccurrence = Double(items[Int(seed.item)].occurrence)
            guard seedOccurrence > 0 else { continue }
            let sessionFactor = seed.session == session ? 1 : configuration.blend.otherSessionFactor
            let seedWeight = configuration.behaviourWeights.weight(seed.type) * sessionFactor * decay[step]
            similar.removeAll()
            let entries = items[Int(seed.item)].neighbours.entries
            // The neighbours' states are scattered: read their normalisers in one pass without branches on what
            // it reads, so the cache misses overlap, before filtering.
            occurrences.removeAll()
            for entry in entries {
                let slot = Int(entry.key)
                occurrences.append(slot >= 0 && slot < items.count ? items[slot].occurrence : 0)
            }
            for (index, entry) in entries.enumerated() where itemTable.isLive(entry.key) {
                let occurrence = Double(occurrences[index])
                guard occurrence > 0 else { continue }
                similar.append(
                    ScoredKey(key: entry.key, score: Double(entry.weight) / (seedOccurrence * occurrence).squareRoot()))
            }
            var chosen = similar.mutableElements
            if chosen.count > settings.neighboursPerItem {
                // The most similar, most similar first (ties by item), as sorting all of them gives.
                chosen = UnsafeMutableBufferPointer(rebasing: chosen[..<chosen.selectBest(settings.neighboursPerItem)])
            }
            for neighbour in chosen {
                let contribution = seedWeight * neighbour.score
                let (position, isFirst) = candidates.add(neighbour.key, contribution, from: .itemCF)
                // The item's strongest seed (the first one on ties).
                if isFirst || contribution > candidates.values[position].coOccurrenceContribution {
                    candidates.values[position].coOccurrenceContribution = contribution
                    candidates.values[position].coOccurrenceSeed = seed.item
                    candidates.values[position].coOccurrenceSeedType = seed.type
                }
            }
        }
        candidates.normalise(.itemCF)
    }

    /// Search → click: P(click j | query q) from the query's counters, weighted by how recent the search is.
    private func addQueryClicks(_ state: UserState, into candidates: inout CandidateSet) {
        let halfLife = configuration.decay.interestHalfLifeSeconds * 1000
        for recent in state.queries.reversed() where queryTable.isLive(recent.query) {
            let query = queries[Int(recent.query)]
            guard query.total > 0 else { continue }
            let age = Double(max(0, state.lastEventMilliseconds - recent.timeMilliseconds))
            let queryWeight = exp2(-age / halfLife)
            for entry in query.clicks.entries where itemTable.isLive(entry.key) {
                let contribution = queryWeight * Double(entry.weight) / Double(query.total)
                let (position, isFirst) = candidates.add(entry.key, contribution, from: .query)
                // The item's strongest query (the first one on ties).
                if isFirst || contribution > candidates.values[position].queryContribution {
                    candidates.values[position].queryContribution = contribution
                    candidates.values[position].querySeed = recent.query
                }
            }
        }
        candidates.normalise(.query)
    }

    /// The nearest items to the user's interest vector, through the IVF index.
    /// - Parameters:
    ///   - pendingVectors: the index's pending vectors, when read once for a batch.
    ///   - interest, best: buffers, emptied here before use.
    ///   - offered: emptied here; the items that passed the checks below so far.
    private func addSemantic(
        _ state: UserState, pendingVectors: SemanticIndex.PendingVectors?, interest: inout [Float],
        best: inout TopHeap<Int32>, offered: inout SlotBits, into candidates: inout CandidateSet
    ) {
        interest.removeAll(keepingCapacity: true)
        interest.append(contentsOf: state.interest)
        VectorMath.normalize(&interest)
        guard VectorMath.norm(interest) > 0 else { return }
        best.removeAll()
        offered.removeAll()
        semanticIndex.search(
            interest, probes: configuration.semantic.probes, scanLimit: configuration.semantic.maxScannedItems,
            pendingVectors: pendingVectors, pendingVector: { items[Int($0)].vector }
        ) { item, similarity in
            // Dead slots are skipped; an item listed twice (a reused slot) offers its score twice, kept once
            // (only an item offered before can be in the list: the common case skips scanning it).
            guard !best.isFull || similarity >= best.weakest?.score ?? .infinity,
                itemTable.isLive(item),
                !offered.contains(item) || !best.contains(item)
            else { return }
            offered.insert(item)
            best.offer(item, similarity)
        }
        merge(best.sortInPlace(), source: .semantic, into: &candidates)
    }

    /// Popularity normalised by the first largest (as a score list's merge gives), without building that list.
    private func addPopular(_ ranked: ArraySlice<Int32>, into candidates: inout CandidateSet) {
        var maximum: Double?
        for item in ranked {
            let score = Double(items[Int(item)].popularity)
            if maximum.map({ $0 < score }) ?? true { maximum = score }
        }
        guard let maximum, maximum > 0 else { return }
        for item in ranked {
            candidates.values[candidates.position(adding: item)].scores[Source.popular.rawValue] =
                Double(items[Int(item)].popularity) / maximum
        }
    }

    /// The trending list, most popular first (ties by id, the order the trending list is maintained in), each
    /// popularity read once instead of twice per comparison from scattered item states.
    /// - Parameter limit: how many of the best to return; below the list's length they are selected through a
    ///   sorted list of `limit` (a threshold compare rejects most items) instead of sorting everything.
    func rankedTrending(limit: Int = .max) -> [Int32] {
        let names = itemTable.names
        func precedes(_ a: (item: Int32, popularity: Float), _ b: (item: Int32, popularity: Float)) -> Bool {
            a.popularity != b.popularity ? a.popularity > b.popularity : names[Int(a.item)] < names[Int(b.item)]
        }
        var ranked: [(item: Int32, popularity: Float)] = []
        ranked.reserveCapacity(trending.count)
        for item in trending where itemTable.isLive(item) { ranked.append((item, items[Int(item)].popularity)) }
        guard limit < ranked.count else {
            ranked.sort(by: precedes)
            return ranked.map(\.item)
        }
        var best: [(item: Int32, popularity: Float)] = []
        best.reserveCapacity(limit + 1)
        for entry in ranked {
            if best.count == limit {
                guard let last = best.last, precedes(entry, last) else { continue }
                best.removeLast()
            }
            var low = 0
            var high = best.count
            while low < high {
                let middle = (low + high) / 2
                if precedes(best[middle], entry) { low = middle + 1 } else { high = middle }
            }
            best.insertShifting(entry, at: low)
        }
        return best.map(\.item)
    }

    /// Adds one source's raw scores, normalised by the source's maximum.
    private func merge(
        _ scores: UnsafeBufferPointer<ScoredKey<Int32>>, source: Source, into candidates: inout CandidateSet
    ) {
        var maximum: Double?
        for entry in scores where maximum.map({ $0 < entry.score }) ?? true { maximum = entry.score }
        guard let maximum, maximum > 0 else { return }
        for entry in scores {
            candidates.values[candidates.position(adding: entry.key)].scores[source.rawValue] = entry.score / maximum
        }
    }

    private func merge(_ scores: borrowing SlotScores, source: Source, into candidates: inout CandidateSet) {
        guard let maximum = scores.scores.max(), maximum > 0 else { return }
        for (position, item) in scores.keys.enumerated() {
            candidates.values[candidates.position(adding: item)].scores[source.rawValue] =
                scores.scores[position] / maximum
        }
    }

    // MARK: - Filters, diversity, reasons

    private func exclusions(user: Int32?, filters: RecommendationFilters) -> Set<Int32> {
        var excluded = Set<Int32>()
        if let user, filters.excludeSeen || filters.excludePurchased {
            for interaction in users[Int(user)].history where filters.excludeSeen || interaction.type == .purchase {
                excluded.insert(interaction.item)
            }
        }
        for id in filters.denyItems { if let slot = itemTable.slot(of: id) { excluded.insert(slot) } }
        return excluded
    }

    private func isAllowed(_ item: Int32, excluded: Set<Int32>, filters: RecommendationFilters) -> Bool {
        guard itemTable.isLive(item), !someItemWasWithdrawn || items[Int(item)].isAvailable,
            excluded.isEmpty || !excluded.contains(item)
        else { return false }
        if filters.includeCategories.isEmpty && filters.excludeCategories.isEmpty { return true }
        let category = items[Int(item)].category
        if !filters.includeCategories.isEmpty {
            guard let category, filters.includeCategories.contains(category) else { return false }
        }
        if let category, filters.excludeCategories.contains(category) { return false }
        return true
    }

    /// Greedy maximal marginal relevance over the best `5k` candidates.
    private func diversified(_ ranked: [(item: Int32, score: Double)], k: Int, diversity: Double)
        -> [(item: Int32, score: Double)]
    {
        var pool = Array(ranked.prefix(k * 5))
        guard let top = pool.first?.score, top > 0 else { return ranked }
        var picked: [(item: Int32, score: Double)] = []
        while picked.count < k, !pool.isEmpty {
            var bestIndex = 0
            var bestValue = -Double.infinity
            for (index, candidate) in pool.enumerated() {
                var redundancy = 0.0
                for chosen in picked {
                    redundancy = max(redundancy, itemSimilarity(candidate.item, chosen.item))
                }
                let value = (1 - diversity) * candidate.score / top - diversity * redundancy
                if value > bestValue {
                    bestValue = value
                    bestIndex = index
                }
            }
            picked.append(pool.remove(at: bestIndex))
        }
        return picked
    }

    /// Cosine of two items' vectors, or 1 for the same item, 0 when either has none.
    func itemSimilarity(_ a: Int32, _ b: Int32) -> Double {
        if a == b { return 1 }
        return Double(max(0, VectorMath.cosine(items[Int(a)].vector, items[Int(b)].vector)))
    }

    private func fillWithPopular(
        _ ranked: inout [(item: Int32, score: Double)], from trendingRanked: [Int32], k: Int, excluded: Set<Int32>,
        filters: RecommendationFilters
    ) {
        var present = Set(ranked.map(\.item))
        func fill(from items: some Sequence<Int32>) {
            for item in items where ranked.count < k {
                guard isAllowed(item, excluded: excluded, filters: filters), present.insert(item).inserted else {
                    continue
                }
                ranked.append((item, 0))
            }
        }
        fill(from: trendingRanked)
        // A prefix of the ranking ran out: the rest, in order.
        if ranked.count < k, trendingRanked.count < trending.count {
            fill(from: rankedTrending().dropFirst(trendingRanked.count))
        }
    }

    private func reasons(for candidate: Candidate, weights: SIMD8<Double>) -> [Reason] {
        // The up to three largest positive contributions, largest first, ties to the earlier source (a selection,
        // not a sorted list per item); none at all reads as popular.
        let contributions = weights * candidate.scores
        var reasons: [Reason] = []
        reasons.reserveCapacity(3)
        var chosen: UInt8 = 0
        while reasons.count < 3 {
            var strongest: Int?
            for lane in 0..<Source.count where chosen & (1 << UInt8(lane)) == 0 && contributions[lane] > 0 {
                if let current = strongest, !(contributions[lane] > contributions[current]) { continue }
                strongest = lane
            }
            guard let lane = strongest ?? (reasons.isEmpty ? Source.popular.rawValue : nil) else { break }
            chosen |= 1 << UInt8(lane)
            reasons.append(reason(Source(rawValue: lane)!, for: candidate))
            if strongest == nil { break }
        }
        return reasons
    }

    private func reason(_ source: Source, for candidate: Candidate) -> Reason {
        switch source {
        case .recent: Reason(kind: Reason.Kind.recent)
        case .sessionNeighbours: Reason(kind: Reason.Kind.similarSessions)
        case .itemCF:
            Reason(
                kind: Reason.Kind.coOccurrence(candidate.coOccurrenceSeedType),
                itemID: itemTable.isLive(candidate.coOccurrenceSeed)
                    ? itemTable.names[Int(candidate.coOccurrenceSeed)] : nil)
        case .query:
            Reason(
                kind: Reason.Kind.query,
                query: queryTable.isLive(candidate.querySeed) ? queryTable.names[Int(candidate.querySeed)] : nil)
        case .semantic: Reason(kind: Reason.Kind.semantic)
        case .popular: Reason(kind: Reason.Kind.popular)
        }
    }
}
