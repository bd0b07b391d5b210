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
    /// False while the catalogue has withdrawn it (an `item` event with `available: false`): never recommended.
    var isAvailable = true
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
/// takes it. Flat storage, one fixed-size record per slot: serial, size, last time, then room for
/// `itemsPerSession` items (entries past the size stay 0). Session-kNN reads the header of up to 500 sessions and
/// the items of the best 100 per recommendation, and apply reads both per event: one record is one or two
/// adjacent cache lines instead of four scattered reads, and opening a session allocates nothing. The records
/// are kept in chunks of ``slotsPerChunk`` slots held by reference, so a copy of the store (a checkpoint's) costs
/// one reference per chunk and a later write copies only the chunk it lands in. `@unchecked Sendable`: chunks
/// are written only through a unique reference (see `ChunkStorage`).
struct SessionStore: @unchecked Sendable {
    struct Header: Sendable, Equatable {
        /// Serial of the session occupying the slot (0 = empty).
        var serial: UInt32
        var count: Int
        var lastTimeMilliseconds: Int64
    }

    let capacity: Int
    let itemsPerSession: Int
    /// Per slot: serial, count, last time (low, high 32 bits), items; ``slotsPerChunk`` slots per chunk, every
    /// chunk allocated whole (zeros).
    private var chunks: [ChunkStorage<Int32>] = []
    private(set) var slotCount = 0
    private(set) var nextSerial: UInt32 = 1

    static let slotsPerChunk = 64
    private static let chunkShift = 6
    private static let headerWords = 4
    private var stride: Int { Self.headerWords + itemsPerSession }
    private var wordsPerChunk: Int { Self.slotsPerChunk * stride }

    init(capacity: Int, itemsPerSession: Int) {
        self.capacity = max(capacity, 1)
        self.itemsPerSession = max(itemsPerSession, 1)
    }

    /// Restores a store; a session longer than `itemsPerSession` keeps its latest items.
    init?(capacity: Int, itemsPerSession: Int, serials: [UInt32], items: [[Int32]], lastTimes: [Int64],
          nextSerial: UInt32) {
        guard capacity >= 1, itemsPerSession >= 1, serials.count == items.count, items.count == lastTimes.count,
            serials.count <= capacity
        else { return nil }
        self.capacity = capacity
        self.itemsPerSession = itemsPerSession
        self.nextSerial = nextSerial
        chunks.reserveCapacity((serials.count + Self.slotsPerChunk - 1) / Self.slotsPerChunk)
        for index in serials.indices {
            appendRecord(serial: serials[index], at: lastTimes[index])
            for item in items[index].suffix(itemsPerSession) { _ = append(item, toSlot: index) }
        }
    }

    /// Serial of each slot (0 = empty), in slot order.
    var serials: [UInt32] { (0..<slotCount).map { header(ofSlot: $0).serial } }
    var lastTimes: [Int64] { (0..<slotCount).map { header(ofSlot: $0).lastTimeMilliseconds } }
    /// Bytes of record storage (for memory estimates).
    var storedBytes: Int { chunks.count * (wordsPerChunk * MemoryLayout<Int32>.stride + 32) }

    @inline(__always) private func slot(_ serial: UInt32) -> Int { Int((serial &- 1) % UInt32(capacity)) }

    /// The slot's record: header words, then its items. Valid while the store is not changed.
    @inline(__always) private func record(ofSlot slot: Int) -> UnsafeMutablePointer<Int32> {
        precondition(UInt(bitPattern: slot) < UInt(bitPattern: slotCount), "session slot out of range")
        let stride = stride
        return chunks.withUnsafeBufferPointer { chunks in
            chunks[slot >> Self.chunkShift].elements + (slot & (Self.slotsPerChunk - 1)) * stride
        }
    }

    /// The slot's record, for writing: its chunk is copied first when a copy of the store shares it.
    @inline(__always) private mutating func mutableRecord(ofSlot slot: Int) -> UnsafeMutablePointer<Int32> {
        precondition(UInt(bitPattern: slot) < UInt(bitPattern: slotCount), "session slot out of range")
        let (stride, wordsPerChunk) = (stride, wordsPerChunk)
        return chunks.withUnsafeMutableBufferPointer { chunks in
            let chunk = slot >> Self.chunkShift
            ChunkStorage.makeUnique(&chunks[chunk], capacity: wordsPerChunk)
            return chunks[chunk].elements + (slot & (Self.slotsPerChunk - 1)) * stride
        }
    }

    @inline(__always) private static func header(of record: UnsafePointer<Int32>) -> Header {
        let time = Int64(record[3]) << 32 | Int64(UInt32(bitPattern: record[2]))
        return Header(serial: UInt32(bitPattern: record[0]), count: Int(record[1]), lastTimeMilliseconds: time)
    }

    @inline(__always) private func header(ofSlot slot: Int) -> Header { Self.header(of: record(ofSlot: slot)) }

    /// The header of the slot `serial` would occupy, when that slot exists; callers compare its serial.
    @inline(__always) func header(of serial: UInt32) -> Header? {
        let slot = slot(serial)
        return slot < slotCount ? header(ofSlot: slot) : nil
    }

    /// The headers of the slots the serials (bit patterns) would occupy, in order; a header with another serial
    /// means that session left the store (serial 0 is never stored). One tight loop with no branch on what it reads, so the cache misses of
    /// scattered records overlap instead of queueing behind each other.
    func headers(ofSerials keys: UnsafeBufferPointer<Int32>, into headers: inout [Header]) {
        headers.removeAll(keepingCapacity: true)
        headers.reserveCapacity(keys.count)
        guard slotCount > 0 else {
            headers.append(contentsOf: repeatElement(Header(serial: 0, count: 0, lastTimeMilliseconds: 0), count: keys.count))
            return
        }
        let capacity = UInt32(capacity)
        let slotCount = slotCount
        for key in keys {
            // A slot not opened yet reads as slot 0, whose serial cannot match.
            var slot = Int((UInt32(bitPattern: key) &- 1) % capacity)
            if slot >= slotCount { slot = 0 }
            headers.append(header(ofSlot: slot))
        }
    }

    func contains(_ serial: UInt32) -> Bool { serial != 0 && header(of: serial)?.serial == serial }

    /// The slot's items, in place: valid while this store value is alive and unchanged.
    func items(inSlot slot: Int) -> UnsafeBufferPointer<Int32> {
        let record = record(ofSlot: slot)
        return UnsafeBufferPointer(start: record + Self.headerWords, count: Int(record[1]))
    }

    /// The session's items, oldest first (none when it left the store), in place: valid while this store value
    /// is alive and unchanged (recommend reads about a hundred sessions per call; retaining each one's chunk
    /// cost a cache miss on the chunk's header).
    func items(of serial: UInt32) -> UnsafeBufferPointer<Int32> {
        contains(serial) ? items(inSlot: slot(serial)) : UnsafeBufferPointer(start: nil, count: 0)
    }

    private static func setLastTime(_ time: Int64, of record: UnsafeMutablePointer<Int32>) {
        record[2] = Int32(bitPattern: UInt32(truncatingIfNeeded: time))
        record[3] = Int32(truncatingIfNeeded: time >> 32)
    }

    private mutating func appendRecord(serial: UInt32, at time: Int64) {
        if slotCount & (Self.slotsPerChunk - 1) == 0 {
            chunks.append(.make(capacity: wordsPerChunk, repeating: 0, count: wordsPerChunk))
        }
        slotCount += 1
        let record = mutableRecord(ofSlot: slotCount - 1)
        record[0] = Int32(bitPattern: serial)
        Self.setLastTime(time, of: record)
    }

    /// Opens a new session, overwriting the oldest when full.
    mutating func open(at time: Int64) -> UInt32 {
        if nextSerial == 0 { nextSerial = 1 }
        let serial = nextSerial
        nextSerial &+= 1
        let slot = slot(serial)
        if slot < slotCount {
            let record = mutableRecord(ofSlot: slot)
            (record + Self.headerWords).update(repeating: 0, count: Int(record[1]))
            record[0] = Int32(bitPattern: serial)
            record[1] = 0
            Self.setLastTime(time, of: record)
        } else {
            appendRecord(serial: serial, at: time)
        }
        return serial
    }

    /// Adds `item` to the session (dropping its oldest item when full); true when the session did not contain it.
    mutating func add(_ item: Int32, to serial: UInt32, at time: Int64) -> Bool {
        guard contains(serial) else { return false }
        let slot = slot(serial)
        let current = record(ofSlot: slot)
        let isNewer = time > Self.header(of: current).lastTimeMilliseconds
        let count = Int(current[1])
        let items = current + Self.headerWords
        for index in 0..<count where items[index] == item {
            if isNewer { Self.setLastTime(time, of: mutableRecord(ofSlot: slot)) }
            return false
        }
        // One write access (one uniqueness check) for the time and the item.
        let writable = mutableRecord(ofSlot: slot)
        if isNewer { Self.setLastTime(time, of: writable) }
        Self.append(item, toRecord: writable, count: count, limit: itemsPerSession)
        return true
    }

    /// Appends an item the record's session does not hold (dropping its oldest when full).
    private static func append(_ item: Int32, toRecord record: UnsafeMutablePointer<Int32>, count: Int, limit: Int) {
        let start = record + headerWords
        if count == limit {
            for index in 0..<(count - 1) { start[index] = start[index + 1] }
            start[count - 1] = item
        } else {
            start[count] = item
            record[1] = Int32(count + 1)
        }
    }

    /// Appends a new item to the slot's session (dropping its oldest when full); false when already there.
    private mutating func append(_ item: Int32, toSlot slot: Int) -> Bool {
        let count = Int(record(ofSlot: slot)[1])
        let items = record(ofSlot: slot) + Self.headerWords
        for index in 0..<count where items[index] == item { return false }
        Self.append(item, toRecord: mutableRecord(ofSlot: slot), count: count, limit: itemsPerSession)
        return true
    }

    mutating func remove(_ item: Int32, from serial: UInt32) {
        guard contains(serial) else { return }
        let record = mutableRecord(ofSlot: slot(serial))
        let start = record + Self.headerWords
        let count = Int(record[1])
        var kept = 0
        for index in 0..<count where start[index] != item {
            start[kept] = start[index]
            kept += 1
        }
        (start + kept).update(repeating: 0, count: count - kept)
        record[1] = Int32(kept)
    }
}

extension SessionStore: Equatable {
    static func == (lhs: SessionStore, rhs: SessionStore) -> Bool {
        guard lhs.capacity == rhs.capacity, lhs.itemsPerSession == rhs.itemsPerSession,
            lhs.slotCount == rhs.slotCount, lhs.nextSerial == rhs.nextSerial
        else { return false }
        return (0..<lhs.slotCount).allSatisfy { slot in
            UnsafeBufferPointer(start: lhs.record(ofSlot: slot), count: lhs.stride)
                .elementsEqual(UnsafeBufferPointer(start: rhs.record(ofSlot: slot), count: rhs.stride))
        }
    }
}
