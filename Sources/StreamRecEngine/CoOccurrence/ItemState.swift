/// Everything the engine keeps about one item; every part is bounded by the configuration.
struct ItemState: Sendable, Equatable {
    /// Co-occurring items (forward-decayed weights), at most `countersPerItem`.
    var neighbours = SpaceSavingCounters()
    /// Forward-decayed weight of the item's own interactions in co-occurrence windows (the CF normaliser).
    var occurrence: Float = 0
    /// Forward-decayed popularity.
    var popularity: Float = 0
    /// Serials of the sessions that most recently added the item, oldest first, at most `sessionsPerItem`.
    var recentSessions: [UInt32] = []
    /// Random-indexing context vector plus text; empty until the item co-occurs or gets text.
    var vector: [Float] = []
    /// Category from the item's metadata event.
    var category: String?
    /// Seed of the item's random index vector (stable hash of its id).
    var indexSeed: UInt64 = 0
    /// Whether the item is in the engine's trending list.
    var isTrending = false
}

extension ItemState {
    /// Appends a session serial, dropping the oldest past `limit`, in place.
    mutating func rememberSession(_ serial: UInt32, limit: Int) {
        if recentSessions.count == limit, limit > 0 {
            // The steady state: shift in place rather than remove and append.
            recentSessions.withUnsafeMutableBufferPointer { serials in
                for index in 1..<serials.count { serials[index - 1] = serials[index] }
                serials[serials.count - 1] = serial
            }
            return
        }
        if recentSessions.count > limit { recentSessions.removeFirst(recentSessions.count - limit + 1) }
        recentSessions.append(serial)
    }
}

/// Everything the engine keeps about one normalised query.
struct QueryState: Sendable, Equatable {
    /// Items clicked after the query (forward-decayed), at most `countersPerQuery`.
    var clicks = SpaceSavingCounters()
    /// Forward-decayed number of clicks that followed the query.
    var total: Float = 0
    /// The query's text vector (cached encoder output).
    var vector: [Float] = []
}

/// The recent sessions, in a ring: session serial s (from 1) lives in slot (s - 1) % capacity until a newer one
/// takes it.
struct SessionStore: Sendable, Equatable {
    let capacity: Int
    /// Serial of the session occupying each slot (0 = empty).
    private(set) var serials: [UInt32]
    /// Distinct items of each session in the order they were first touched.
    private(set) var items: [[Int32]]
    private(set) var lastTimeMilliseconds: [Int64]
    private(set) var nextSerial: UInt32 = 1

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        serials = []
        items = []
        lastTimeMilliseconds = []
    }

    init?(capacity: Int, serials: [UInt32], items: [[Int32]], lastTimes: [Int64], nextSerial: UInt32) {
        guard capacity >= 1, serials.count == items.count, items.count == lastTimes.count, serials.count <= capacity
        else { return nil }
        self.capacity = capacity
        self.serials = serials
        self.items = items
        self.lastTimeMilliseconds = lastTimes
        self.nextSerial = nextSerial
    }

    private func slot(_ serial: UInt32) -> Int { Int((serial &- 1) % UInt32(capacity)) }

    func contains(_ serial: UInt32) -> Bool {
        let slot = slot(serial)
        return serial != 0 && slot < serials.count && serials[slot] == serial
    }

    func items(of serial: UInt32) -> [Int32] { contains(serial) ? items[slot(serial)] : [] }
    func lastTime(of serial: UInt32) -> Int64 { contains(serial) ? lastTimeMilliseconds[slot(serial)] : 0 }

    /// Opens a new session, overwriting the oldest when full.
    mutating func open(at time: Int64) -> UInt32 {
        if nextSerial == 0 { nextSerial = 1 }
        let serial = nextSerial
        nextSerial &+= 1
        let slot = slot(serial)
        if slot < serials.count {
            serials[slot] = serial
            items[slot] = []
            lastTimeMilliseconds[slot] = time
        } else {
            serials.append(serial)
            items.append([])
            lastTimeMilliseconds.append(time)
        }
        return serial
    }

    /// Adds `item` to the session; true when the session did not contain it yet.
    mutating func add(_ item: Int32, to serial: UInt32, at time: Int64, limit: Int) -> Bool {
        guard contains(serial) else { return false }
        let slot = slot(serial)
        lastTimeMilliseconds[slot] = max(lastTimeMilliseconds[slot], time)
        if items[slot].contains(item) { return false }
        if items[slot].count >= limit { items[slot].removeFirst(items[slot].count - limit + 1) }
        items[slot].append(item)
        return true
    }

    mutating func remove(_ item: Int32, from serial: UInt32) {
        guard contains(serial) else { return }
        items[slot(serial)].removeAll { $0 == item }
    }
}
