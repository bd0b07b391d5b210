/// Growable storage of plain values for one recommend call's scratch. Noncopyable, so it is never shared: its
/// writes need none of the copy-on-write uniqueness checks, retains and releases that arrays paid on every write
/// in the hot loops. Positions are checked; the memory is freed when the owner goes away.
struct ScratchBuffer<Element: BitwiseCopyable>: ~Copyable {
    private var base: UnsafeMutablePointer<Element>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The elements, valid until the buffer next changes.
    var elements: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    /// The elements for reordering in place, valid until the buffer next changes.
    var mutableElements: UnsafeMutableBufferPointer<Element> {
        mutating get { UnsafeMutableBufferPointer(start: base, count: count) }
    }

    subscript(position: Int) -> Element {
        @inline(__always) unsafeAddress {
            precondition(UInt(bitPattern: position) < UInt(bitPattern: count), "scratch position out of range")
            return UnsafePointer(base + position)
        }
        @inline(__always) unsafeMutableAddress {
            precondition(UInt(bitPattern: position) < UInt(bitPattern: count), "scratch position out of range")
            return base + position
        }
    }

    @inline(__always) mutating func append(_ element: Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: element)
        count += 1
    }

    mutating func removeAll() { count = 0 }

    private mutating func grow() {
        let larger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        larger.initialize(from: base, count: count)
        base.deallocate()
        base = larger
        capacity *= 2
    }
}

/// An insertion-ordered set of 32-bit slots, each given a dense position (0, 1, 2, … in first-insert order), so
/// per-key values live in buffers beside it. Open addressing with a multiplicative hash: recommend builds a
/// few of these per call, and Swift's `Dictionary` (SipHash per lookup) dominated its cost. Owned by the call
/// that builds it; nothing is shared between calls or stored in the engine.
struct SlotIndex: ~Copyable {
    /// Position + 1 of the key in each hash bucket (0 = empty); a power-of-two count.
    private var buckets: UnsafeMutablePointer<Int32>
    private var bucketCount: Int
    private var shift: UInt32
    private var storedKeys: ScratchBuffer<Int32>

    init(expectedCount: Int) {
        var bits: UInt32 = 4
        while (1 << bits) < expectedCount * 2 { bits += 1 }
        bucketCount = 1 << bits
        buckets = .allocate(capacity: bucketCount)
        buckets.initialize(repeating: 0, count: bucketCount)
        shift = 32 - bits
        storedKeys = ScratchBuffer(capacity: expectedCount)
    }

    deinit { buckets.deallocate() }

    /// The keys in first-insert order, valid until the index next changes.
    var keys: UnsafeBufferPointer<Int32> { storedKeys.elements }
    var count: Int { storedKeys.count }

    @inline(__always) private static func bucket(of key: Int32, shift: UInt32) -> Int {
        Int((UInt32(bitPattern: key) &* 0x9E37_79B1) >> shift)
    }

    /// The key's position, or nil when it was never inserted.
    @inline(__always) func position(of key: Int32) -> Int? {
        let mask = bucketCount - 1
        var bucket = Self.bucket(of: key, shift: shift)
        while true {
            let stored = Int(buckets[bucket])
            if stored == 0 { return nil }
            if storedKeys[stored - 1] == key { return stored - 1 }
            bucket = (bucket + 1) & mask
        }
    }

    /// The key's position, inserting it at the end when new.
    @discardableResult @inline(__always)
    mutating func insert(_ key: Int32) -> (position: Int, inserted: Bool) {
        if (storedKeys.count + 1) * 2 > bucketCount { grow() }
        let mask = bucketCount - 1
        var bucket = Self.bucket(of: key, shift: shift)
        while true {
            let stored = Int(buckets[bucket])
            if stored == 0 { break }
            if storedKeys[stored - 1] == key { return (stored - 1, false) }
            bucket = (bucket + 1) & mask
        }
        storedKeys.append(key)
        buckets[bucket] = Int32(storedKeys.count)
        return (storedKeys.count - 1, true)
    }

    /// Empties the index, keeping its storage for the next use.
    mutating func removeAll() {
        if storedKeys.count * 8 >= bucketCount {
            buckets.update(repeating: 0, count: bucketCount)
        } else {
            // Each key's bucket holds its position + 1; searching for that exact value (not stopping at empty
            // buckets) finds it even after other buckets of its run were cleared.
            let mask = bucketCount - 1
            for (position, key) in storedKeys.elements.enumerated() {
                var bucket = Self.bucket(of: key, shift: shift)
                while Int(buckets[bucket]) != position + 1 { bucket = (bucket + 1) & mask }
                buckets[bucket] = 0
            }
        }
        storedKeys.removeAll()
    }

    private mutating func grow() {
        buckets.deallocate()
        bucketCount *= 2
        shift -= 1
        buckets = .allocate(capacity: bucketCount)
        buckets.initialize(repeating: 0, count: bucketCount)
        let mask = bucketCount - 1
        for (position, key) in storedKeys.elements.enumerated() {
            var bucket = Self.bucket(of: key, shift: shift)
            while buckets[bucket] != 0 { bucket = (bucket + 1) & mask }
            buckets[bucket] = Int32(position + 1)
        }
    }
}

/// Scores accumulated per item in first-touch order (a source's raw scores before normalisation).
struct SlotScores: ~Copyable {
    private var index: SlotIndex
    private var values: ScratchBuffer<Double>

    init(expectedCount: Int) {
        index = SlotIndex(expectedCount: expectedCount)
        values = ScratchBuffer(capacity: expectedCount)
    }

    /// Keys and their scores in first-touch order, valid until the scores next change.
    var keys: UnsafeBufferPointer<Int32> { index.keys }
    var scores: UnsafeBufferPointer<Double> { values.elements }
    var count: Int { index.count }

    /// Adds `value` to the key's score; returns the key's position.
    @discardableResult @inline(__always)
    mutating func add(_ key: Int32, _ value: Double) -> Int {
        let (position, inserted) = index.insert(key)
        if inserted { values.append(value) } else { values[position] += value }
        return position
    }

    @inline(__always) func score(of key: Int32) -> Double? { index.position(of: key).map { values[$0] } }

    /// Empties the scores, keeping their storage.
    mutating func removeAll() {
        index.removeAll()
        values.removeAll()
    }
}

/// The candidates of one recommend call with their per-source scores, in first-touch order.
struct CandidateSet: ~Copyable {
    private var index = SlotIndex(expectedCount: 1024)
    /// Per candidate, by position.
    var values = ScratchBuffer<Candidate>(capacity: 1024)
    /// Positions of the candidates the source being accumulated has touched, in first-touch order.
    private var touched = ScratchBuffer<Int32>(capacity: 1024)

    init() {}

    var items: UnsafeBufferPointer<Int32> { index.keys }

    /// The item's position, adding an empty candidate when new.
    @inline(__always) mutating func position(adding item: Int32) -> Int {
        let (position, inserted) = index.insert(item)
        if inserted { values.append(Candidate()) }
        return position
    }

    func position(of item: Int32) -> Int? { index.position(of: item) }

    /// Adds `value` to the item's raw score from `source`, adding the candidate when new; returns its position and
    /// whether this is the source's first score for it. A source accumulates this way, then ``normalise(_:)``.
    @discardableResult @inline(__always)
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
        // The first largest in touch order, as `max()` over the scores in that order picks it.
        var maximum: Double?
        for position in touched.elements {
            let score = values[Int(position)].scores[lane]
            if let current = maximum, !(current < score) { continue }
            maximum = score
        }
        if let maximum, maximum > 0 {
            for position in touched.elements { values[Int(position)].scores[lane] /= maximum }
        } else {
            // What a skipped merge leaves: no score from this source (the candidate itself scores 0 if new).
            for position in touched.elements { values[Int(position)].scores[lane] = 0 }
        }
        touched.removeAll()
    }

    /// Empties the set, keeping its storage.
    mutating func removeAll() {
        index.removeAll()
        values.removeAll()
        touched.removeAll()
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
struct RecommendScratch: ~Copyable {
    /// exp(-steps back / recentPositionDecay) and the other position decays by step: the values the formulas
    /// give, computed once per batch instead of hundreds of times per call.
    let recentDecay: DecayTable
    let sessionPositionDecay: DecayTable
    let neighbourPositionDecay: DecayTable
    /// The blend weights by source lane.
    let blendWeights: SIMD8<Double>
    /// The session-kNN IDF divisor by the number of recent sessions holding an item, filled on first use.
    var idfDivisors: [Double] = []
    var candidates = CandidateSet()
    var recentScores = SlotScores(expectedCount: 64)
    /// The current session's distinct items with their position weights.
    var sessionItems = SlotScores(expectedCount: 32)
    /// Sessions sharing an item with the current one, and their headers.
    var sharedSessions = SlotScores(expectedCount: 1024)
    var sharedHeaders: [SessionStore.Header] = []
    /// The nearest sessions among them.
    var neighbourSessions: TopScores<Int64>
    /// Item-CF seeds, their neighbours' similarities and occurrence counts.
    var seeds: [Interaction] = []
    var similarItems = ScratchBuffer<ScoredKey<Int32>>(capacity: 256)
    var occurrences = ScratchBuffer<Float>(capacity: 256)
    /// The user's unit interest vector, the nearest items to it, and the items offered to that selection.
    var unitInterest: [Float] = []
    var semanticBest: TopHeap<Int32>
    var semanticOffered = SlotBits()
    /// The semantic index's pending vectors, read once per batch (nil: read per call).
    var pendingVectors: SemanticIndex.PendingVectors?

    init(configuration: EngineConfiguration) {
        let steps = max(configuration.capacity.historyPerUser, configuration.capacity.itemsPerSession)
        recentDecay = DecayTable(scale: configuration.blend.recentPositionDecay, count: steps)
        sessionPositionDecay = DecayTable(scale: configuration.sessionNeighbours.positionDecay, count: steps)
        neighbourPositionDecay = DecayTable(scale: configuration.sessionNeighbours.neighbourPositionDecay, count: steps)
        let blend = configuration.blend
        var weights = SIMD8<Double>()
        for (lane, weight) in [blend.recent, blend.sessionNeighbours, blend.itemCF, blend.query, blend.semantic,
                               blend.popular].enumerated() { weights[lane] = weight }
        blendWeights = weights
        neighbourSessions = TopScores(capacity: configuration.sessionNeighbours.neighbours)
        semanticBest = TopHeap(capacity: configuration.semantic.candidates)
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

    @inline(__always) subscript(steps: Int) -> Double {
        steps >= 0 && steps < values.count ? values[steps] : exponential(-Double(steps) / scale)
    }
}
