/// Interns string ids to dense slots (Int32) and keeps them in least-recently-used order, so a capped table
/// can evict in O(1). Slots of evicted ids are reused, the most recently freed first.
///
/// The id → slot index is an open-addressing table (linear probing, at most half full, backward-shift deletion, so
/// no tombstones) over a fast multiply-fold hash of the id's UTF-8 bytes: two lookups per event, each a hash of a
/// few machine words, then usually two cache lines (the bucket, the slot's name). Ids are untrusted input and that
/// hash is public and unkeyed, so crafted ids could pile into one probe run (HashDoS): when an insertion has to
/// probe more than ``maximumProbes`` buckets (a well-spread hash at 50 % load gives runs of at most ~40 at 1 M ids)
/// the table re-indexes itself with Swift's `Hasher` (SipHash, randomly keyed per process) for good — the speed of
/// a `Dictionary`, and no way to aim at a bucket. The bucket layout never reaches results or snapshots (nothing
/// iterates it; snapshots store slots), so state stays deterministic either way.
///
/// The per-slot lists (names, links, buckets) are chunked (``ChunkedArray``): copying the table for a checkpoint
/// costs a reference per chunk, and the writes of the next events copy only the chunks they land in.
struct SlotTable: Sendable {
    /// The id in each slot; "" marks a free slot (ids are never empty).
    private(set) var names = ChunkedArray<String>()
    /// One bit per slot, set while the slot is live: recommend asks ``isLive(_:)`` for hundreds of scattered
    /// slots per call, and a bit (12.5 KB per 100 k slots, cache resident) answers without reading the slot's
    /// 16-byte name.
    private(set) var liveBits: [UInt64] = []
    private(set) var freeSlots: [Int32] = []
    /// Doubly linked LRU list over slots (head = least recently used); a slot's two links share a cache line.
    private(set) var links = ChunkedArray<Link>()
    private(set) var head: Int32 = -1
    private(set) var tail: Int32 = -1
    /// Live ids.
    private(set) var count = 0
    /// The index: (low 32 bits of the id's hash) << 32 | (slot + 1); 0 marks an empty bucket. The stored hash
    /// finds the bucket's home on growth and deletion and rules out most other ids without reading their names.
    private(set) var buckets = ChunkedArray<UInt64>()
    /// Whether ids are hashed with the keyed `Hasher` because a probe run grew past ``maximumProbes``.
    private(set) var isHardened = false

    /// Longest probe run an insertion accepts before the table switches to the keyed hash.
    static let maximumProbes = 256

    init() {}

    /// Number of slots ever allocated (live + free).
    var slotCount: Int { names.count }

    func slot(of name: String) -> Int32? { find(name, hash: hash(of: name)).slot }

    /// Whether the slot holds an id (`names[slot]` not empty).
    func isLive(_ slot: Int32) -> Bool {
        let word = Int(slot) >> 6
        return slot >= 0 && word < liveBits.count && liveBits[word] & (1 << UInt64(slot & 63)) != 0
    }

    private mutating func setLive(_ slot: Int32, _ isLive: Bool) {
        let word = Int(slot) >> 6
        if word >= liveBits.count { liveBits.append(contentsOf: repeatElement(0, count: word + 1 - liveBits.count)) }
        if isLive { liveBits[word] |= 1 << UInt64(slot & 63) } else { liveBits[word] &= ~(1 << UInt64(slot & 63)) }
    }
    var leastRecentlyUsed: Int32? { head >= 0 ? head : nil }

    /// The slot for `name`, allocating one when new; marks it most recently used. When a new name would exceed
    /// `capacity`, the least recently used name is removed first and its slot (returned as `evicted`) is reused,
    /// so the caller must clear what it keeps for `evicted` before storing the new name's state.
    mutating func touch(_ name: String, capacity: Int) -> (slot: Int32, isNew: Bool, evicted: Int32?) {
        let hash = hash(of: name)
        if let slot = find(name, hash: hash).slot {
            moveToTail(slot)
            return (slot, false, nil)
        }
        var evicted: Int32?
        if count >= capacity, let oldest = leastRecentlyUsed {
            remove(oldest)
            evicted = oldest
        }
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            names[Int(slot)] = name
        } else {
            slot = Int32(names.count)
            names.append(name)
            links.append(Link())
        }
        setLive(slot, true)
        count += 1
        if count * 2 > buckets.count { grow() }
        if !insert(slot, hash: hash) {
            isHardened = true
            _ = reindex()  // indexes the new id too; no duplicates possible
        }
        link(slot)
        return (slot, true, evicted)
    }

    mutating func remove(_ slot: Int32) {
        guard isLive(slot) else { return }
        unlink(slot)
        let name = names[Int(slot)]
        if let bucket = find(name, hash: hash(of: name)).bucket { deleteBucket(bucket) }
        names[Int(slot)] = ""
        setLive(slot, false)
        freeSlots.append(slot)
        count -= 1
    }

    // MARK: - Index

    private func hash(of name: String) -> UInt32 {
        var name = name  // `withUTF8` is mutating only to make a non-native string contiguous
        if isHardened {
            return name.withUTF8 { bytes in
                var hasher = Hasher()
                hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
                return UInt32(truncatingIfNeeded: hasher.finalize())
            }
        }
        return name.withUTF8 { UInt32(truncatingIfNeeded: Self.fastHash(UnsafeRawBufferPointer($0))) }
    }

    /// Multiply-fold over 8-byte words with a SplitMix64 finish: a few cycles for a short id, well spread low bits.
    static func fastHash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var state = UInt64(truncatingIfNeeded: bytes.count) &* 0x9E37_79B9_7F4A_7C15
        var offset = 0
        while offset &+ 8 <= bytes.count {
            state = fold(state ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset &+= 8
        }
        var last: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count {
            last |= UInt64(bytes[offset]) << shift
            shift &+= 8
            offset &+= 1
        }
        return StableHash.mix(fold(state ^ last))
    }

    @inline(__always) private static func fold(_ value: UInt64) -> UInt64 {
        let product = value.multipliedFullWidth(by: 0xA076_1D64_78BD_642F)
        return product.high ^ product.low
    }

    private static func bucketValue(slot: Int32, hash: UInt32) -> UInt64 { UInt64(hash) << 32 | UInt64(slot + 1) }

    /// The bucket holding `name` and its slot, when present.
    private func find(_ name: String, hash: UInt32) -> (bucket: Int?, slot: Int32?) {
        guard !buckets.isEmpty else { return (nil, nil) }
        let mask = buckets.count - 1
        var bucket = Int(hash) & mask
        while true {
            let value = buckets[bucket]
            if value == 0 { return (nil, nil) }
            if UInt32(truncatingIfNeeded: value >> 32) == hash {
                let slot = Int32(truncatingIfNeeded: value) - 1
                if names[Int(slot)] == name { return (bucket, slot) }
            }
            bucket = (bucket &+ 1) & mask
        }
    }

    /// Puts `slot` into the first empty bucket of its probe run; false (and nothing stored) when the run is
    /// longer than ``maximumProbes`` under the fast hash.
    private mutating func insert(_ slot: Int32, hash: UInt32) -> Bool {
        let limit = isHardened ? Int.max : Self.maximumProbes
        let mask = buckets.count - 1
        var bucket = Int(hash) & mask
        var probes = 0
        while buckets[bucket] != 0 {
            probes &+= 1
            if probes > limit { return false }
            bucket = (bucket &+ 1) & mask
        }
        buckets[bucket] = Self.bucketValue(slot: slot, hash: hash)
        return true
    }

    /// Empties a bucket and moves later members of its run back, so every id stays reachable from its home.
    private mutating func deleteBucket(_ bucket: Int) {
        let mask = buckets.count - 1
        var hole = bucket
        var candidate = bucket
        while true {
            candidate = (candidate &+ 1) & mask
            let value = buckets[candidate]
            if value == 0 { break }
            let home = Int(value >> 32) & mask
            // Movable when its home is not cyclically within (hole, candidate].
            let distanceToHole = (hole &- home) & mask
            let distanceToCandidate = (candidate &- home) & mask
            if distanceToHole < distanceToCandidate {
                buckets[hole] = value
                hole = candidate
            }
        }
        buckets[hole] = 0
    }

    private mutating func grow() {
        let old = buckets
        buckets = ChunkedArray(repeating: 0, count: max(16, old.count * 2))
        for value in old where value != 0 {
            guard insert(Int32(truncatingIfNeeded: value) - 1, hash: UInt32(truncatingIfNeeded: value >> 32)) else {
                isHardened = true
                _ = reindex()
                return
            }
        }
    }

    /// Indexes every live slot from scratch (switching to the keyed hash if a run grows too long); false when an
    /// id is in two slots.
    private mutating func reindex() -> Bool {
        var size = 16
        while count * 2 > size { size *= 2 }
        buckets = ChunkedArray(repeating: 0, count: size)
        for slot in names.indices where !names[slot].isEmpty {
            let hash = hash(of: names[slot])
            if find(names[slot], hash: hash).slot != nil { return false }
            if !insert(Int32(slot), hash: hash) {
                isHardened = true
                return reindex()
            }
        }
        return true
    }

    // MARK: - Recency

    /// `unlink` then `link` in four writes instead of five (the slot's own links are written once), through one
    /// writer (one check of the list of chunks).
    private mutating func moveToTail(_ slot: Int32) {
        guard slot != tail else { return }
        let oldTail = tail
        let newHead: Int32? = links.withWriter { links in
            let old = links[Int(slot)]  // not the tail, so it has a next
            links[Int(old.next)].previous = old.previous
            links[Int(oldTail)].next = slot
            links[Int(slot)] = Link(previous: oldTail, next: -1)
            guard old.previous >= 0 else { return old.next }
            links[Int(old.previous)].next = old.next
            return nil
        }
        if let newHead { head = newHead }
        tail = slot
    }

    private mutating func link(_ slot: Int32) {
        links[Int(slot)] = Link(previous: tail, next: -1)
        if tail >= 0 { links[Int(tail)].next = slot } else { head = slot }
        tail = slot
    }

    private mutating func unlink(_ slot: Int32) {
        let old = links[Int(slot)]
        if old.previous >= 0 { links[Int(old.previous)].next = old.next } else { head = old.next }
        if old.next >= 0 { links[Int(old.next)].previous = old.previous } else { tail = old.previous }
        links[Int(slot)] = Link()
    }

    /// Slots from least to most recently used (for snapshots).
    var slotsInRecencyOrder: [Int32] {
        var order: [Int32] = []
        order.reserveCapacity(count)
        var slot = head
        while slot >= 0 {
            order.append(slot)
            slot = links[Int(slot)].next
        }
        return order
    }

    /// Rebuilds a table from snapshot parts; nil when they are inconsistent.
    static func restore(names: some Collection<String>, freeSlots: [Int32], recencyOrder: [Int32]) -> SlotTable? {
        var table = SlotTable()
        table.names = ChunkedArray(names)
        let names = table.names
        for slot in names.indices where !names[slot].isEmpty { table.setLive(Int32(slot), true) }
        table.freeSlots = freeSlots
        table.links = ChunkedArray(repeating: Link(), count: names.count)
        table.count = names.count(where: { !$0.isEmpty })
        guard table.reindex() else { return nil }
        guard recencyOrder.count == table.count,
            freeSlots.count + table.count == names.count,
            freeSlots.allSatisfy({ $0 >= 0 && Int($0) < names.count && names[Int($0)].isEmpty })
        else { return nil }
        for slot in recencyOrder {
            guard table.isLive(slot), table.links[Int(slot)].previous == -1, slot != table.head else { return nil }
            table.link(slot)
        }
        return table
    }

    struct Link: Sendable {
        var previous: Int32 = -1
        var next: Int32 = -1
    }
}
