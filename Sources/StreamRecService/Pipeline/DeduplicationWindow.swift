/// The last `capacity` event ids seen, to drop redelivered or resent events. Bounded: the oldest id is
/// forgotten when a new one arrives at capacity, so a duplicate older than the window is applied again.
/// Part of the checkpoint, so a restart remembers exactly what the state already holds.
///
/// Exact: ids are compared in full whenever their hashes match. Each id is hashed once: the ring keeps its
/// hash, so forgetting it needs no second hash (a `Set<String>` hashed every id on insert and again on
/// removal, ≈ 3–4 % of `serve`'s CPU while behind). Each slot also holds the low half of its id's hash, so
/// probing and forgetting read only the slots, not the ring (a cache miss per entry probed, ≈ 7 % of
/// `serve`'s CPU while behind).
public struct DeduplicationWindow: Sendable {
    public let capacity: Int
    /// A ring of the ids in arrival order; `oldest` indexes the next one to forget once full.
    private var ring: [String] = []
    /// `ring[i]`'s hash value.
    private var ringHashes: [Int] = []
    private var oldest = 0
    /// Open addressing with linear probing: each slot holds, in its low half, a ring index + 1 (0: empty),
    /// in its high half the low 32 bits of that id's hash, which include its home slot (`mask` < 2³²). At
    /// most half full, so probes stay short. (`pipeline.dedup_window` is at most 100 M, so a ring index fits.)
    private var slots: [UInt64]
    private let mask: Int

    public init(capacity: Int, recent: [String] = []) {
        self.capacity = capacity
        var size = 1
        while size < 2 * capacity { size <<= 1 }
        slots = [UInt64](repeating: 0, count: capacity > 0 ? size : 0)
        mask = size - 1
        ring.reserveCapacity(capacity)
        ringHashes.reserveCapacity(capacity)
        for id in recent { _ = insert(id) }
    }

    /// Records `id`; false when it is already in the window (a duplicate).
    /// - Complexity: O(1) amortised.
    public mutating func insert(_ id: String) -> Bool {
        guard capacity > 0 else { return true }
        let hash = id.hashValue
        let tag = UInt64(truncatingIfNeeded: UInt32(truncatingIfNeeded: hash)) << 32
        var slot = hash & mask
        while slots[slot] != 0 {
            if slots[slot] & 0xFFFF_FFFF_0000_0000 == tag {
                let index = Int(slots[slot] & 0xFFFF_FFFF) - 1
                if ringHashes[index] == hash && ring[index] == id { return false }
            }
            slot = (slot + 1) & mask
        }
        if ring.count < capacity {
            slots[slot] = tag | UInt64(ring.count + 1)
            ring.append(id)
            ringHashes.append(hash)
        } else {
            forget(oldest)
            ring[oldest] = id
            ringHashes[oldest] = hash
            // The removal may have moved entries: probe again for a free slot.
            slot = hash & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = tag | UInt64(oldest + 1)
            oldest = (oldest + 1) % capacity
        }
        return true
    }

    /// Removes ring entry `index` from the table, shifting later entries of its probe run back so every
    /// entry stays reachable from its home slot (no tombstones).
    private mutating func forget(_ index: Int) {
        var hole = ringHashes[index] & mask
        while slots[hole] & 0xFFFF_FFFF != UInt64(index + 1) { hole = (hole + 1) & mask }
        slots.emptyProbedSlot(hole)
    }

    /// Oldest first, as stored in the checkpoint.
    public var recent: [String] { Array(ring[oldest...] + ring[..<oldest]) }
    public var count: Int { ring.count }
}

/// Open-addressing tables with linear probing whose slots are 0 when empty and otherwise hold, in their high half,
/// hash bits that include the entry's home slot (the dedup window's and the owed refreshes' tables).
extension Array where Element == UInt64 {
    /// Empties slot `hole`, shifting later entries of its probe run back so every entry stays reachable from its
    /// home slot (no tombstones). The count is a power of two.
    mutating func emptyProbedSlot(_ hole: Int) {
        let mask = count - 1
        var hole = hole
        var next = (hole + 1) & mask
        while self[next] != 0 {
            let home = Int(truncatingIfNeeded: self[next] >> 32) & mask
            // The entry at `next` may fill the hole unless its home lies cyclically in (hole, next].
            if (next - home) & mask >= (next - hole) & mask {
                self[hole] = self[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        self[hole] = 0
    }
}
