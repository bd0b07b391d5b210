/// An insertion-ordered set of 32-bit slots, each given a dense position (0, 1, 2, … in first-insert order), so
/// per-key values live in plain arrays beside it. Open addressing with a multiplicative hash: recommend builds a
/// few of these per call, and Swift's `Dictionary` (SipHash per lookup) dominated its cost. Owned by the call
/// that builds it; nothing is shared between calls or stored in the engine.
struct SlotIndex {
    /// Position + 1 of the key in each hash bucket (0 = empty).
    private var buckets: [Int32]
    private var shift: UInt32
    /// The keys in first-insert order.
    private(set) var keys: [Int32] = []

    init(expectedCount: Int) {
        var bits: UInt32 = 4
        while (1 << bits) < expectedCount * 2 { bits += 1 }
        buckets = [Int32](repeating: 0, count: 1 << bits)
        shift = 32 - bits
        keys.reserveCapacity(expectedCount)
    }

    var count: Int { keys.count }

    @inline(__always) private func bucket(of key: Int32) -> Int { Self.bucket(of: key, shift: shift) }

    @inline(__always) private static func bucket(of key: Int32, shift: UInt32) -> Int {
        Int((UInt32(bitPattern: key) &* 0x9E37_79B1) >> shift)
    }

    /// The key's position, or nil when it was never inserted.
    func position(of key: Int32) -> Int? {
        buckets.withUnsafeBufferPointer { buckets in
            let mask = buckets.count - 1
            var bucket = bucket(of: key)
            while true {
                let stored = Int(buckets[bucket])
                if stored == 0 { return nil }
                if keys[stored - 1] == key { return stored - 1 }
                bucket = (bucket + 1) & mask
            }
        }
    }

    /// The key's position, inserting it at the end when new.
    @discardableResult
    mutating func insert(_ key: Int32) -> (position: Int, inserted: Bool) {
        if (keys.count + 1) * 2 > buckets.count { grow() }
        let mask = buckets.count - 1
        var bucket = bucket(of: key)
        while true {
            let stored = Int(buckets[bucket])
            if stored == 0 { break }
            if keys[stored - 1] == key { return (stored - 1, false) }
            bucket = (bucket + 1) & mask
        }
        keys.append(key)
        buckets[bucket] = Int32(keys.count)
        return (keys.count - 1, true)
    }

    /// Empties the index, keeping its storage for the next use.
    mutating func removeAll() {
        if keys.count * 8 >= buckets.count {
            buckets.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        } else {
            // Each key's bucket holds its position + 1; searching for that exact value (not stopping at empty
            // buckets) finds it even after other buckets of its run were cleared.
            let keys = keys
            let shift = shift
            buckets.withUnsafeMutableBufferPointer { buckets in
                let mask = buckets.count - 1
                for (position, key) in keys.enumerated() {
                    var bucket = Self.bucket(of: key, shift: shift)
                    while Int(buckets[bucket]) != position + 1 { bucket = (bucket + 1) & mask }
                    buckets[bucket] = 0
                }
            }
        }
        keys.removeAll(keepingCapacity: true)
    }

    private mutating func grow() {
        shift -= 1
        buckets = [Int32](repeating: 0, count: buckets.count * 2)
        let mask = buckets.count - 1
        for (position, key) in keys.enumerated() {
            var bucket = bucket(of: key)
            while buckets[bucket] != 0 { bucket = (bucket + 1) & mask }
            buckets[bucket] = Int32(position + 1)
        }
    }
}

/// Scores accumulated per item in first-touch order (a source's raw scores before normalisation).
struct SlotScores {
    private(set) var index: SlotIndex
    private(set) var scores: [Double] = []

    init(expectedCount: Int) {
        index = SlotIndex(expectedCount: expectedCount)
        scores.reserveCapacity(expectedCount)
    }

    var keys: [Int32] { index.keys }
    var count: Int { index.count }

    /// Adds `value` to the key's score; returns the key's position.
    @discardableResult
    mutating func add(_ key: Int32, _ value: Double) -> Int {
        let (position, inserted) = index.insert(key)
        if inserted { scores.append(value) } else { scores[position] += value }
        return position
    }

    func score(of key: Int32) -> Double? { index.position(of: key).map { scores[$0] } }

    /// Empties the scores, keeping their storage.
    mutating func removeAll() {
        index.removeAll()
        scores.removeAll(keepingCapacity: true)
    }
}

extension SlotScores {
    /// Adds `value` to the key's score when the key is present; returns whether it was.
    mutating func addIfPresent(_ key: Int32, _ value: Double) -> Bool {
        guard let position = index.position(of: key) else { return false }
        scores[position] += value
        return true
    }
}

/// The candidates of one recommend call with their per-source scores, in first-touch order.
struct CandidateSet {
    private(set) var index = SlotIndex(expectedCount: 1024)
    var values: [Candidate] = []
    /// Positions of the candidates the source being accumulated has touched, in first-touch order.
    private var touched: [Int32] = []
    private var touchedScores: [Double] = []

    init() {
        values.reserveCapacity(1024)
        touched.reserveCapacity(1024)
        touchedScores.reserveCapacity(1024)
    }

    var items: [Int32] { index.keys }

    /// The item's position, adding an empty candidate when new.
    mutating func position(adding item: Int32) -> Int {
        let (position, inserted) = index.insert(item)
        if inserted { values.append(Candidate()) }
        return position
    }

    func position(of item: Int32) -> Int? { index.position(of: item) }

    /// Adds `value` to the item's raw score from `source`, adding the candidate when new; returns its position and
    /// whether this is the source's first score for it. A source accumulates this way, then ``normalise(_:)``.
    @discardableResult
    mutating func add(_ item: Int32, _ value: Double, from source: Source) -> (position: Int, isFirst: Bool) {
        let position = position(adding: item)
        let bit = UInt8(1) << UInt8(source.rawValue)
        if values[position].sources & bit == 0 {
            values[position].sources |= bit
            values[position].scores[source.rawValue] = value
            touched.append(Int32(position))
            return (position, true)
        }
        values[position].scores[source.rawValue] += value
        return (position, false)
    }

    /// Divides the source's raw scores by their maximum (in first-touch order, as a separate score list would
    /// give), or zeroes them when the maximum is not positive; call once per source after its ``add(_:_:from:)``s.
    mutating func normalise(_ source: Source) {
        let lane = source.rawValue
        touchedScores.removeAll(keepingCapacity: true)
        for position in touched { touchedScores.append(values[Int(position)].scores[lane]) }
        if let maximum = touchedScores.max(), maximum > 0 {
            for position in touched { values[Int(position)].scores[lane] /= maximum }
        } else {
            // What a skipped merge leaves: no score from this source (the candidate itself scores 0 if new).
            for position in touched { values[Int(position)].scores[lane] = 0 }
        }
        touched.removeAll(keepingCapacity: true)
    }

    /// Empties the set, keeping its storage.
    mutating func removeAll() {
        index.removeAll()
        values.removeAll(keepingCapacity: true)
        touched.removeAll(keepingCapacity: true)
    }
}

/// A set of non-negative slots as one bit each, grown on demand and emptied by clearing only the words it set.
struct SlotBits {
    private var words: [UInt64] = []
    private var setWords: [Int32] = []

    func contains(_ slot: Int32) -> Bool {
        let word = Int(slot) >> 6
        return word < words.count && words[word] & (1 << UInt64(slot & 63)) != 0
    }

    mutating func insert(_ slot: Int32) {
        let word = Int(slot) >> 6
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: word + 1 - words.count)) }
        if words[word] == 0 { setWords.append(Int32(word)) }
        words[word] |= 1 << UInt64(slot & 63)
    }

    mutating func removeAll() {
        for word in setWords { words[Int(word)] = 0 }
        setWords.removeAll(keepingCapacity: true)
    }
}

/// The buffers of a recommend call, reused by the next call of a batch (`recommend(userIDs:k:filters:)`): emptied,
/// not reallocated, so a call allocates little beyond its result. Owned by the call; never shared.
struct RecommendScratch {
    /// exp(-steps back / recentPositionDecay) and the other position decays by step: the values the formulas
    /// give, computed once per batch instead of hundreds of times per call.
    let recentDecay: DecayTable
    let sessionPositionDecay: DecayTable
    let neighbourPositionDecay: DecayTable
    /// The session-kNN IDF divisor by the number of recent sessions holding an item, filled on first use.
    var idfDivisors: [Double] = []
    var candidates = CandidateSet()
    var recentScores = SlotScores(expectedCount: 64)
    /// The current session's distinct items with their position weights.
    var sessionItems = SlotScores(expectedCount: 32)
    /// Sessions sharing an item with the current one, and their headers.
    var sharedSessions = SlotScores(expectedCount: 1024)
    var sharedHeaders: [SessionStore.Header] = []
    var semanticOffered = SlotBits()

    init(configuration: EngineConfiguration) {
        let steps = max(configuration.capacity.historyPerUser, configuration.capacity.itemsPerSession)
        recentDecay = DecayTable(scale: configuration.blend.recentPositionDecay, count: steps)
        sessionPositionDecay = DecayTable(scale: configuration.sessionNeighbours.positionDecay, count: steps)
        neighbourPositionDecay = DecayTable(scale: configuration.sessionNeighbours.neighbourPositionDecay, count: steps)
    }
}

/// exponential(-n / scale) for n = 0, 1, …, exactly as the formula computes it (kept for the first `count`).
struct DecayTable {
    private let scale: Double
    private let values: [Double]

    init(scale: Double, count: Int) {
        self.scale = scale
        values = (0..<max(count, 1)).map { exponential(-Double($0) / scale) }
    }

    subscript(steps: Int) -> Double {
        steps >= 0 && steps < values.count ? values[steps] : exponential(-Double(steps) / scale)
    }
}
