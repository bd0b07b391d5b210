/// Every knob of the engine, each with a default. Decodes from YAML/JSON with the property names as keys; absent keys
/// keep their defaults. How the defaults were chosen: docs/evaluation.md.
public struct EngineConfiguration: Sendable, Equatable, Codable {
    /// Capacities: the engine never holds more than this; past a cap the least recently active entry is evicted.
    public var capacity = Capacity()
    /// Event-time half-lives.
    public var decay = Decay()
    /// Item-based collaborative filtering (co-occurrence within a user's recent window).
    public var coOccurrence = CoOccurrence()
    /// Session-based nearest neighbours over recent sessions.
    public var sessionNeighbours = SessionNeighbours()
    /// Interest vectors and the semantic (IVF) index.
    public var semantic = Semantic()
    /// How the candidate sources are mixed.
    public var blend = Blend()
    /// Weight of each behaviour when it touches an item.
    public var behaviourWeights = BehaviourWeights()

    public init() {}

    public struct Capacity: Sendable, Equatable, Codable {
        /// Users kept; the least recently active is evicted past it. Default 1,000,000.
        public var maxUsers = 1_000_000
        /// Items kept (least recently touched evicted). Default 1,000,000.
        public var maxItems = 1_000_000
        /// Distinct normalised queries kept. Default 200,000.
        public var maxQueries = 200_000
        /// Sessions kept for session neighbours (oldest dropped). Default 200,000.
        public var maxSessions = 200_000
        /// Interactions remembered per user. Default 30.
        public var historyPerUser = 30
        /// Recent queries remembered per user. Default 4.
        public var queriesPerUser = 4
        /// Distinct items remembered per session. Default 30.
        public var itemsPerSession = 30
        /// Recent sessions remembered per item (the session-neighbour sample). Default 64.
        public var sessionsPerItem = 64
        /// Space-Saving counters per item (co-occurring items). Default 128.
        public var countersPerItem = 128
        /// Space-Saving counters per query (clicked items). Default 32.
        public var countersPerQuery = 32
        /// Items kept in the popularity (trending) list. Default 200.
        public var trendingItems = 200
        public init() {}
    }

    public struct Decay: Sendable, Equatable, Codable {
        /// Half-life of item popularity, seconds. Default 86,400 (one day).
        public var popularityHalfLifeSeconds: Double = 86_400
        /// Half-life of co-occurrence counts, seconds. Default 2,592,000 (30 days).
        public var coOccurrenceHalfLifeSeconds: Double = 2_592_000
        /// Half-life of a user's interest vector and recent queries, seconds. Default 3,600.
        public var interestHalfLifeSeconds: Double = 3_600
        public init() {}
    }

    public struct CoOccurrence: Sendable, Equatable, Codable {
        /// How many previous interactions of the user an interaction pairs with. Default 3.
        public var window = 3
        /// Pairs further apart in time than this are not counted, seconds. Default 3,600.
        public var maxGapSeconds: Double = 3_600
        /// Weight of the backward direction (j then i counted for i → j). Default 0.5.
        public var backwardWeight: Double = 0.5
        /// Neighbours used per recent item when recommending. Default 128 (all counters).
        public var neighboursPerItem = 128
        /// Recent items of the user whose neighbours are candidates. Default 5.
        public var seedItems = 5
        /// A search leads to the clicks that follow it within this time, seconds. Default 1,800.
        public var queryClickWindowSeconds: Double = 1_800
        public init() {}
    }

    public struct SessionNeighbours: Sendable, Equatable, Codable {
        /// Candidate sessions considered (most recent first). Default 500.
        public var sampleSize = 500
        /// Most similar sessions that vote. Default 100.
        public var neighbours = 100
        /// Decay of the current session's items by position from its end (exp(-Δ/λ)). Default 1.
        public var positionDecay: Double = 1
        /// Decay of a neighbour's items by distance from the shared item (exp(-Δ/λ)). Default 10.
        public var neighbourPositionDecay: Double = 10
        /// Half-life of a neighbour's weight by its age, seconds. Default 1,000,000 (about 11.6 days).
        public var recencyHalfLifeSeconds: Double = 1_000_000
        /// Exponent of the inverse-popularity weight of shared items: a shared item counts 1/(1 + its recent
        /// sessions)^x (0 = off). Default 0.5.
        public var idfExponent: Double = 0.5
        public init() {}
    }

    public struct Semantic: Sendable, Equatable, Codable {
        /// Dimensions of item, query and interest vectors. Default 32.
        public var dimensions = 32
        /// Non-zero entries of an item's random index vector. Default 4.
        public var indexVectorNonZeros = 4
        /// Weight of query text added to the item clicked after it. Default 1.
        public var queryTextWeight: Double = 1
        /// Weight of title/category/tags text added to an item. Default 2.
        public var itemTextWeight: Double = 2
        /// Cap on IVF centroids (the index uses about √items). Default 256.
        public var maxCentroids = 256
        /// IVF lists searched per query. Default 4.
        public var probes = 4
        /// Candidates the semantic source returns. Default 50.
        public var candidates = 50
        /// Most items scored from the probed lists per query (bounds latency when clusters are lopsided; the scan
        /// is the largest part of a recommendation's cost). Default 512.
        public var maxScannedItems = 512
        public init() {}
    }

    public struct Blend: Sendable, Equatable, Codable {
        /// The session's (and the user's) own recent items. Default 2.
        public var recent: Double = 2
        /// Session-based nearest neighbours. Default 1.
        public var sessionNeighbours: Double = 1
        /// Item-based CF from the recent items. Default 0.25.
        public var itemCF: Double = 0.25
        /// Items clicked after the user's recent queries. Default 0.5.
        public var query: Double = 0.5
        /// Nearest items to the interest vector. Default 0.02.
        public var semantic: Double = 0.02
        /// Decayed popularity. Default 0.02.
        public var popular: Double = 0.02
        /// Decay of the user's recent items by steps back (exp(-Δ/λ)). Default 1.
        public var recentPositionDecay: Double = 1
        /// Factor for recent items from earlier sessions of the user. Default 0.3.
        public var otherSessionFactor: Double = 0.3
        public init() {}
    }

    public struct BehaviourWeights: Sendable, Equatable, Codable {
        public var click: Double = 1
        public var view: Double = 0.5
        public var cart: Double = 2
        public var purchase: Double = 3
        public init() {}

        func weight(_ type: EventType) -> Double {
            switch type {
            case .click: click
            case .view: view
            case .cart: cart
            case .purchase: purchase
            case .search, .item: 0
            }
        }
    }

    /// The recommendation algorithms `streamrec evaluate` compares.
    public enum Algorithm: String, Sendable, CaseIterable, Codable {
        case popular, itemcf, semantic, hybrid
    }

    /// This configuration with only the sources of `algorithm` switched on (`hybrid` keeps the blend as is).
    public func restricted(to algorithm: Algorithm) -> EngineConfiguration {
        var configuration = self
        guard algorithm != .hybrid else { return configuration }
        let keep = configuration.blend
        configuration.blend.recent = 0
        configuration.blend.sessionNeighbours = 0
        configuration.blend.itemCF = 0
        configuration.blend.query = 0
        configuration.blend.semantic = 0
        configuration.blend.popular = 0
        switch algorithm {
        case .popular: configuration.blend.popular = 1
        case .itemcf: configuration.blend.itemCF = keep.itemCF > 0 ? keep.itemCF : 1
        case .semantic: configuration.blend.semantic = keep.semantic > 0 ? keep.semantic : 1
        case .hybrid: break
        }
        return configuration
    }
}

// Decoding keeps the default of every absent key, so a config file names only what it changes.
extension KeyedDecodingContainer {
    fileprivate func decode<Value: Decodable>(_ key: Key, default value: Value) throws -> Value {
        try decodeIfPresent(Value.self, forKey: key) ?? value
    }
}

extension EngineConfiguration.Capacity {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self()
        maxUsers = try container.decode(.maxUsers, default: defaults.maxUsers)
        maxItems = try container.decode(.maxItems, default: defaults.maxItems)
        maxQueries = try container.decode(.maxQueries, default: defaults.maxQueries)
        maxSessions = try container.decode(.maxSessions, default: defaults.maxSessions)
        historyPerUser = try container.decode(.historyPerUser, default: defaults.historyPerUser)
        queriesPerUser = try container.decode(.queriesPerUser, default: defaults.queriesPerUser)
        itemsPerSession = try container.decode(.itemsPerSession, default: defaults.itemsPerSession)
        sessionsPerItem = try container.decode(.sessionsPerItem, default: defaults.sessionsPerItem)
        countersPerItem = try container.decode(.countersPerItem, default: defaults.countersPerItem)
        countersPerQuery = try container.decode(.countersPerQuery, default: defaults.countersPerQuery)
        trendingItems = try container.decode(.trendingItems, default: defaults.trendingItems)
    }
}

extension EngineConfiguration.Decay {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self()
        popularityHalfLifeSeconds = try container.decode(.popularityHalfLifeSeconds, default: defaults.popularityHalfLifeSeconds)
        coOccurrenceHalfLifeSeconds = try container.decode(.coOccurrenceHalfLifeSeconds, default: defaults.coOccurrenceHalfLifeSeconds)
        interestHalfLifeSeconds = try container.decode(.interestHalfLifeSeconds, default: defaults.interestHalfLifeSeconds)
    }
}

extension EngineConfiguration.CoOccurrence {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self()
        window = try container.decode(.window, default: defaults.window)
        maxGapSeconds = try container.decode(.maxGapSeconds, default: defaults.maxGapSeconds)
        backwardWeight = try container.decode(.backwardWeight, default: defaults.backwardWeight)
        neighboursPerItem = try container.decode(.neighboursPerItem, default: defaults.neighboursPerItem)
        seedItems = try container.decode(.seedItems, default: defaults.seedItems)
        queryClickWindowSeconds = try container.decode(.queryClickWindowSeconds, default: defaults.queryClickWindowSeconds)
    }
}

extension EngineConfiguration.SessionNeighbours {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self()
        sampleSize = try container.decode(.sampleSize, default: defaults.sampleSize)
        neighbours = try container.decode(.neighbours, default: defaults.neighbours)
        positionDecay = try container.decode(.positionDecay, default: defaults.positionDecay)
        neighbourPositionDecay = try container.decode(.neighbourPositionDecay, default: defaults.neighbourPositionDecay)
        recencyHalfLifeSeconds = try container.decode(.recencyHalfLifeSeconds, default: defaults.recencyHalfLifeSeconds)
        idfExponent = try container.decode(.idfExponent, default: defaults.idfExponent)
    }
}

extension EngineConfiguration.Semantic {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self()
        dimensions = try container.decode(.dimensions, default: defaults.dimensions)
        indexVectorNonZeros = try container.decode(.indexVectorNonZeros, default: defaults.indexVectorNonZeros)
        queryTextWeight = try container.decode(.queryTextWeight, default: defaults.queryTextWeight)
        itemTextWeight = try container.decode(.itemTextWeight, default: defaults.itemTextWeight)
        maxCentroids = try container.decode(.maxCentroids, default: defaults.maxCentroids)
        probes = try container.decode(.probes, default: defaults.probes)
        candidates = try container.decode(.candidates, default: defaults.candidates)
        maxScannedItems = try container.decode(.maxScannedItems, default: defaults.maxScannedItems)
    }
}

extension EngineConfiguration.Blend {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self()
        recent = try container.decode(.recent, default: defaults.recent)
        sessionNeighbours = try container.decode(.sessionNeighbours, default: defaults.sessionNeighbours)
        itemCF = try container.decode(.itemCF, default: defaults.itemCF)
        query = try container.decode(.query, default: defaults.query)
        semantic = try container.decode(.semantic, default: defaults.semantic)
        popular = try container.decode(.popular, default: defaults.popular)
        recentPositionDecay = try container.decode(.recentPositionDecay, default: defaults.recentPositionDecay)
        otherSessionFactor = try container.decode(.otherSessionFactor, default: defaults.otherSessionFactor)
    }
}

extension EngineConfiguration.BehaviourWeights {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self()
        click = try container.decode(.click, default: defaults.click)
        view = try container.decode(.view, default: defaults.view)
        cart = try container.decode(.cart, default: defaults.cart)
        purchase = try container.decode(.purchase, default: defaults.purchase)
    }
}

extension EngineConfiguration {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self()
        capacity = try container.decode(.capacity, default: defaults.capacity)
        decay = try container.decode(.decay, default: defaults.decay)
        coOccurrence = try container.decode(.coOccurrence, default: defaults.coOccurrence)
        sessionNeighbours = try container.decode(.sessionNeighbours, default: defaults.sessionNeighbours)
        semantic = try container.decode(.semantic, default: defaults.semantic)
        blend = try container.decode(.blend, default: defaults.blend)
        behaviourWeights = try container.decode(.behaviourWeights, default: defaults.behaviourWeights)
    }
}
