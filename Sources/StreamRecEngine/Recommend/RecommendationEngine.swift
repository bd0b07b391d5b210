/// The streaming recommender's state and its per-event update.
///
/// A value type mutated by one owner. Time is event time only (`timestampMilliseconds`), so replaying the same
/// events in the same order yields byte-identical state (see ``snapshot()``) and identical recommendations.
/// String ids are interned to dense slots on arrival; all per-user and per-item state is bounded by
/// ``EngineConfiguration/capacity`` and the least recently active users/items are evicted past their caps.
public struct RecommendationEngine: Sendable {
    public internal(set) var configuration: EngineConfiguration
    let textEncoder: any TextEncoder

    var userTable = SlotTable()
    var users = ChunkedArray<UserState>()
    var itemTable = SlotTable()
    var items = ChunkedArray<ItemState>()
    var queryTable = SlotTable()
    var queries = ChunkedArray<QueryState>()
    var sessions: SessionStore
    /// Items with the highest popularity (unordered; ranked when read).
    var trending: [Int32] = []
    /// Index in `trending` of its least popular item, nil when unknown. A cache (not part of the snapshot): it
    /// saves a scan of the list on every event, and stays valid until that item gains popularity or the list changes.
    var weakestTrendingIndex: Int?
    /// Whether any item was ever withdrawn (`available: false`); until then recommend skips the availability read
    /// per candidate (a scattered load each). Derived, not part of the snapshot.
    var someItemWasWithdrawn = false
    var popularityClock: ForwardDecay
    var coOccurrenceClock: ForwardDecay
    var semanticIndex: SemanticIndex
    /// Events applied so far.
    public internal(set) var eventCount: Int64 = 0

    /// - Parameters:
    ///   - configuration: knobs and capacities; out-of-range values are clamped to the nearest sane one.
    ///   - textEncoder: turns queries and titles into vectors; defaults to ``HashedTextEncoder``. Its
    ///     `dimensions` must equal `configuration.semantic.dimensions`.
    public init(configuration: EngineConfiguration = EngineConfiguration(), textEncoder: (any TextEncoder)? = nil) {
        let configuration = configuration.clamped()
        self.configuration = configuration
        let dimensions = configuration.semantic.dimensions
        let encoder = textEncoder ?? HashedTextEncoder(dimensions: dimensions)
        precondition(encoder.dimensions == dimensions, "text encoder dimensions must match semantic.dimensions")
        self.textEncoder = encoder
        sessions = SessionStore(capacity: configuration.capacity.maxSessions,
                                itemsPerSession: configuration.capacity.itemsPerSession)
        popularityClock = ForwardDecay(halfLifeSeconds: configuration.decay.popularityHalfLifeSeconds)
        coOccurrenceClock = ForwardDecay(halfLifeSeconds: configuration.decay.coOccurrenceHalfLifeSeconds)
        semanticIndex = SemanticIndex(dimensions: dimensions)
    }

    /// Users currently held.
    public var userCount: Int { userTable.count }
    /// Items currently held.
    public var itemCount: Int { itemTable.count }

    /// Updates the state with one event. Events with an empty id are ignored (the decoder never produces them).
    /// - Complexity: O(window · countersPerItem) amortised.
    public mutating func apply(_ event: Event) {
        eventCount += 1
        let time = event.timestampMilliseconds
        rebaseClocksIfNeeded(at: time)
        switch event.type {
        case .item: applyItem(event, at: time)
        case .search: applySearch(event, at: time)
        case .click, .view, .cart, .purchase: applyBehaviour(event, at: time)
        }
        if semanticIndex.needsUpdate {
            let items = items
            let itemTable = itemTable
            semanticIndex.update(
                liveItems: { (0..<Int32(items.count)).filter { itemTable.isLive($0) && !items[Int($0)].vector.isEmpty } },
                vector: { items[Int($0)].vector }, maxCentroids: configuration.semantic.maxCentroids)
        }
    }

    // MARK: - Event kinds

    private mutating func applyItem(_ event: Event, at time: Int64) {
        guard let itemID = event.itemID, !itemID.isEmpty else { return }
        let item = touchItem(itemID)
        if let category = event.category { items[Int(item)].category = category }
        if let available = event.available {
            items[Int(item)].isAvailable = available
            if !available { someItemWasWithdrawn = true }
        }
        let text = ([event.title, event.category].compactMap { $0 } + event.tags).joined(separator: " ")
        let textVector = textEncoder.encode(text)
        if VectorMath.norm(textVector) > 0 {
            addToVector(of: item, textVector, scale: Float(configuration.semantic.itemTextWeight))
        }
    }

    private mutating func applySearch(_ event: Event, at time: Int64) {
        guard let userID = event.userID, !userID.isEmpty, let text = event.query else { return }
        let user = touchUser(userID)
        // Writes to the user go through its address (see `applyBehaviour`).
        let userState = users.mutableAddress(of: Int(user))
        _ = session(of: userState, id: event.effectiveSessionID ?? userID, at: time)
        userState.pointee.lastEventMilliseconds = max(userState.pointee.lastEventMilliseconds, time)
        guard let query = touchQuery(text) else { return }
        userState.pointee.remember(RecentQuery(query: query, timeMilliseconds: time),
                                   limit: configuration.capacity.queriesPerUser)
        userState.pointee.addInterest(queries[Int(query)].vector, weight: 1, at: time,
                                      halfLifeSeconds: configuration.decay.interestHalfLifeSeconds)
    }

    private mutating func applyBehaviour(_ event: Event, at time: Int64) {
        guard let userID = event.userID, !userID.isEmpty, let itemID = event.itemID, !itemID.isEmpty else { return }
        let user = touchUser(userID)
        let item = touchItem(itemID)
        let typeWeight = configuration.behaviourWeights.weight(event.type)
        // The user's and the item's state are written a dozen times per event: through their addresses, each
        // chunk's uniqueness is checked once instead of twice per write. Nothing below copies `users` or `items`.
        let userState = users.mutableAddress(of: Int(user))
        let itemState = items.mutableAddress(of: Int(item))
        let serial = session(of: userState, id: event.effectiveSessionID ?? userID, at: time)

        itemState.pointee.popularity += popularityClock.weight(at: time) * Float(typeWeight)
        if typeWeight < 0 { weakestTrendingIndex = nil }  // a negative weight may sink any trending item
        updateTrending(item)
        let pairDecay = coOccurrenceClock.weight(at: time)
        countCoOccurrences(of: item, itemState, history: userState.pointee.history, typeWeight: typeWeight,
                           decayWeight: pairDecay, at: time)
        countQueryClick(event, item: item, itemState, user: userState, typeWeight: typeWeight,
                        decayWeight: pairDecay, at: time)

        if sessions.add(item, to: serial, at: time) {
            itemState.pointee.rememberSession(serial, limit: configuration.capacity.sessionsPerItem)
        }
        let interaction = Interaction(item: item, type: event.type, session: serial, timeMilliseconds: time)
        userState.pointee.remember(interaction, limit: configuration.capacity.historyPerUser)
        userState.pointee.lastEventMilliseconds = max(userState.pointee.lastEventMilliseconds, time)
        // The item's unit vector joins the interest (its random index vector while it has no context yet).
        let weight = Float(typeWeight)
        let halfLife = configuration.decay.interestHalfLifeSeconds
        let norm = VectorMath.norm(itemState.pointee.vector)
        if norm > 0 {
            userState.pointee.addInterest(itemState.pointee.vector, weight: weight / norm, at: time,
                                          halfLifeSeconds: halfLife)
        } else {
            let indexVector = indexVector(seed: itemState.pointee.indexSeed)
            let norm = VectorMath.norm(indexVector)
            if norm > 0 {
                userState.pointee.addInterest(indexVector, weight: weight / norm, at: time, halfLifeSeconds: halfLife)
            }
        }
    }

    /// Pairs the item with the user's previous interactions (both directions, weighted by behaviour and by
    /// 1/distance in the sequence) and grows both items' random-indexing vectors.
    private mutating func countCoOccurrences(
        of item: Int32, _ itemState: UnsafeMutablePointer<ItemState>, history: [Interaction], typeWeight: Double,
        decayWeight: Float, at time: Int64
    ) {
        let settings = configuration.coOccurrence
        let maxGap = Int64(settings.maxGapSeconds * 1000)
        let capacity = configuration.capacity.countersPerItem
        let semantic = configuration.semantic
        let itemSeed = itemState.pointee.indexSeed
        var distance = 0
        for previous in history.reversed() {
            distance += 1
            guard distance <= settings.window, abs(time - previous.timeMilliseconds) <= maxGap else { break }
            guard previous.item != item, itemTable.isLive(previous.item) else { continue }
            let pairWeight = typeWeight / Double(distance)
            let stored = decayWeight * Float(pairWeight)
            // Another element than the item's (checked above), so the two addresses never overlap. The item's
            // vector is created (and queued for the index) before the previous item's, as always.
            let previousState = items.mutableAddress(of: Int(previous.item))
            if Self.addPartner(previous.item, seed: previousState.pointee.indexSeed,
                               weight: stored * Float(settings.backwardWeight), capacity: capacity,
                               scale: Float(pairWeight), semantic: semantic, to: &itemState.pointee) {
                semanticIndex.addPending(item)
            }
            if Self.addPartner(item, seed: itemSeed, weight: stored, capacity: capacity, scale: Float(pairWeight),
                               semantic: semantic, to: &previousState.pointee) {
                semanticIndex.addPending(previous.item)
            }
        }
        itemState.pointee.occurrence += decayWeight * Float(typeWeight)
    }

    /// Search → click: the event's own `query`, else the user's latest search within the click window.
    private mutating func countQueryClick(
        _ event: Event, item: Int32, _ itemState: UnsafeMutablePointer<ItemState>,
        user: UnsafeMutablePointer<UserState>, typeWeight: Double, decayWeight: Float, at time: Int64
    ) {
        var query: Int32?
        if let text = event.query {
            query = touchQuery(text)
            if let query {
                user.pointee.remember(RecentQuery(query: query, timeMilliseconds: time),
                                      limit: configuration.capacity.queriesPerUser)
            }
        } else if let latest = user.pointee.queries.last,
            time - latest.timeMilliseconds <= Int64(configuration.coOccurrence.queryClickWindowSeconds * 1000)
        {
            query = latest.query
        }
        guard let query, queryTable.isLive(query) else { return }
        let stored = decayWeight * Float(typeWeight)
        queries[Int(query)].clicks.add(item, weight: stored, capacity: configuration.capacity.countersPerQuery)
        queries[Int(query)].total += stored
        if itemState.pointee.vector.isEmpty {
            itemState.pointee.vector = [Float](repeating: 0, count: configuration.semantic.dimensions)
            semanticIndex.addPending(item)
        }
        VectorMath.add(queries[Int(query)].vector, scaledBy: Float(configuration.semantic.queryTextWeight * typeWeight),
                       to: &itemState.pointee.vector)
    }

    // MARK: - Slots, eviction

    private mutating func touchUser(_ id: String) -> Int32 {
        let (slot, isNew, _) = userTable.touch(id, capacity: configuration.capacity.maxUsers)
        if isNew {
            if Int(slot) == users.count { users.append(UserState()) } else { users[Int(slot)] = UserState() }
        }
        return slot
    }

    private mutating func touchItem(_ id: String) -> Int32 {
        let (slot, isNew, evicted) = itemTable.touch(id, capacity: configuration.capacity.maxItems)
        if isNew {
            if let evicted { removeReferences(toEvictedItem: evicted) }
            var state = ItemState()
            state.indexSeed = StableHash.fnv1a(id)
            if Int(slot) == items.count { items.append(state) } else { items[Int(slot)] = state }
        }
        return slot
    }

    /// Removes the references to an evicted item that can be found from it: its co-occurrence partners (counts
    /// are symmetric), its sessions and the trending list. References elsewhere (query counters, other users'
    /// histories, index lists) point at a reused slot at worst: bounded staleness, never a trap.
    private mutating func removeReferences(toEvictedItem slot: Int32) {
        let state = items[Int(slot)]
        for entry in state.neighbours.entries where itemTable.isLive(entry.key) {
            items[Int(entry.key)].neighbours.remove(slot)
        }
        for serial in state.recentSessions { sessions.remove(slot, from: serial) }
        if state.isTrending {
            trending.removeAll { $0 == slot }
            weakestTrendingIndex = nil
        }
        items[Int(slot)] = ItemState()
    }

    private mutating func touchQuery(_ text: String) -> Int32? {
        let normalized = TextNormalizer.normalizedQuery(text)
        guard !normalized.isEmpty else { return nil }
        let (slot, isNew, _) = queryTable.touch(normalized, capacity: configuration.capacity.maxQueries)
        if isNew {
            let state = QueryState(vector: textEncoder.encode(normalized))
            if Int(slot) == queries.count { queries.append(state) } else { queries[Int(slot)] = state }
        }
        return slot
    }

    /// The session serial for the user's session `id`, opening a new one when it is not among the user's
    /// recent sessions (or has left the session store).
    private mutating func session(of user: UnsafeMutablePointer<UserState>, id: String, at time: Int64) -> UInt32 {
        let hash = StableHash.fnv1a(id)
        if let serial = user.pointee.latestSerial(ofSession: hash), sessions.contains(serial) {
            user.pointee.noteSession(hash: hash, serial: serial)
            return serial
        }
        let serial = sessions.open(at: time)
        user.pointee.noteSession(hash: hash, serial: serial)
        return serial
    }

    // MARK: - Popularity

    private mutating func updateTrending(_ item: Int32) {
        if items[Int(item)].isTrending {
            // Popularity only grows here, so only the weakest item itself gaining can move the minimum.
            if let weakest = weakestTrendingIndex, weakest < trending.count, trending[weakest] == item {
                weakestTrendingIndex = nil
            }
            return
        }
        if trending.count < configuration.capacity.trendingItems {
            trending.append(item)
            items[Int(item)].isTrending = true
            weakestTrendingIndex = nil
            return
        }
        let weakest: Int
        if let cached = weakestTrendingIndex, cached < trending.count {
            weakest = cached
        } else {
            weakest = Self.leastPopularIndex(trending, items: items, names: itemTable.names)
            weakestTrendingIndex = weakest
        }
        guard Self.isLessPopular(trending[weakest], than: item, items: items, names: itemTable.names) else { return }
        items[Int(trending[weakest])].isTrending = false
        trending[weakest] = item
        items[Int(item)].isTrending = true
        weakestTrendingIndex = nil
    }

    // Static helpers borrow the arrays: calling an instance method from a mutating one copied the whole engine.
    /// Popularity order with a tie-break on the id, so equal counts rank the same in every run.
    private static func isLessPopular(_ a: Int32, than b: Int32, items: ChunkedArray<ItemState>, names: ChunkedArray<String>) -> Bool {
        let left = items[Int(a)].popularity
        let right = items[Int(b)].popularity
        if left != right { return left < right }
        return names[Int(a)] > names[Int(b)]
    }

    private static func leastPopularIndex(_ list: [Int32], items: ChunkedArray<ItemState>, names: ChunkedArray<String>) -> Int {
        var weakest = 0
        for index in list.indices where isLessPopular(list[index], than: list[weakest], items: items, names: names) {
            weakest = index
        }
        return weakest
    }

    private mutating func rebaseClocksIfNeeded(at time: Int64) {
        if popularityClock.needsRebase(at: time) {
            let factor = popularityClock.rebase(to: time)
            for index in items.indices { items[index].popularity *= factor }
            weakestTrendingIndex = nil  // rounding may tie values that differed
        }
        if coOccurrenceClock.needsRebase(at: time) {
            let factor = coOccurrenceClock.rebase(to: time)
            for index in items.indices {
                items[index].occurrence *= factor
                items[index].neighbours.scale(by: factor)
            }
            for index in queries.indices {
                queries[index].total *= factor
                queries[index].clicks.scale(by: factor)
            }
        }
    }

    // MARK: - Vectors

    /// An item's fixed random index vector: a few ±1 entries at positions from its id's stable hash (`seed`).
    func indexVector(seed: UInt64) -> [Float] {
        var vector = [Float](repeating: 0, count: configuration.semantic.dimensions)
        Self.addIndexVector(seed: seed, nonZeros: configuration.semantic.indexVectorNonZeros, to: &vector, scale: 1)
        return vector
    }

    // Static so that writing into `items` does not overlap an access to `self` (which would copy the array).
    private static func addIndexVector(seed: UInt64, nonZeros: Int, to vector: inout [Float], scale: Float) {
        vector.withUnsafeMutableBufferPointer { vector in
            let count = UInt64(vector.count)
            // The dimensions are usually a power of two: then a mask gives the position the division would.
            let isPowerOfTwo = count & (count &- 1) == 0
            for nonZero in 0..<nonZeros {
                let hash = StableHash.mix(seed &+ UInt64(nonZero))
                let position = Int(isPowerOfTwo ? hash & (count &- 1) : hash % count)
                vector[position] += hash & (1 << 63) == 0 ? scale : -scale
            }
        }
    }

    /// One side of a co-occurring pair: counts the partner and adds its index vector to the item's vector,
    /// creating that first (then returns true: the caller queues the item for the semantic index).
    private static func addPartner(
        _ partner: Int32, seed: UInt64, weight: Float, capacity: Int, scale: Float,
        semantic: EngineConfiguration.Semantic, to state: inout ItemState
    ) -> Bool {
        // The vector first: its cache miss then overlaps the counters' instead of following it.
        let isNew = state.vector.isEmpty
        if isNew { state.vector = [Float](repeating: 0, count: semantic.dimensions) }
        addIndexVector(seed: seed, nonZeros: semantic.indexVectorNonZeros, to: &state.vector, scale: scale)
        state.neighbours.add(partner, weight: weight, capacity: capacity)
        return isNew
    }

    private mutating func addToVector(of item: Int32, _ vector: [Float], scale: Float) {
        ensureVector(item)
        VectorMath.add(vector, scaledBy: scale, to: &items[Int(item)].vector)
    }

    private mutating func ensureVector(_ item: Int32) {
        guard items[Int(item)].vector.isEmpty else { return }
        items[Int(item)].vector = [Float](repeating: 0, count: configuration.semantic.dimensions)
        semanticIndex.addPending(item)
    }
}

extension EngineConfiguration {
    /// Every knob moved into its sane range (capacities ≥ 1, decays > 0), so no configuration can trap.
    func clamped() -> EngineConfiguration {
        var copy = self
        copy.capacity.maxUsers = max(1, capacity.maxUsers)
        copy.capacity.maxItems = max(1, capacity.maxItems)
        copy.capacity.maxQueries = max(1, capacity.maxQueries)
        copy.capacity.maxSessions = min(max(1, capacity.maxSessions), 1 << 30)  // session slots are UInt32 arithmetic
        copy.capacity.historyPerUser = max(1, capacity.historyPerUser)
        copy.capacity.queriesPerUser = max(1, capacity.queriesPerUser)
        copy.capacity.itemsPerSession = max(1, capacity.itemsPerSession)
        copy.capacity.sessionsPerItem = max(1, capacity.sessionsPerItem)
        copy.capacity.countersPerItem = max(1, capacity.countersPerItem)
        copy.capacity.countersPerQuery = max(1, capacity.countersPerQuery)
        copy.capacity.trendingItems = max(1, capacity.trendingItems)
        copy.semantic.dimensions = max(1, semantic.dimensions)
        copy.semantic.indexVectorNonZeros = max(1, semantic.indexVectorNonZeros)
        copy.semantic.maxCentroids = max(1, semantic.maxCentroids)
        copy.semantic.probes = max(1, semantic.probes)
        copy.sessionNeighbours.positionDecay = max(0.001, sessionNeighbours.positionDecay)
        copy.sessionNeighbours.neighbourPositionDecay = max(0.001, sessionNeighbours.neighbourPositionDecay)
        copy.blend.recentPositionDecay = max(0.001, blend.recentPositionDecay)
        return copy
    }
}
