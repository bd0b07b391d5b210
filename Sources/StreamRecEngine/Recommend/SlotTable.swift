/// Interns string ids to dense slots (Int32) and keeps them in least-recently-used order, so a capped table
/// can evict in O(1). Slots of evicted ids are reused, the most recently freed first.
/// Nothing here iterates the dictionary: only lookups, so its (randomly seeded) order never reaches results.
struct SlotTable: Sendable, Equatable {
    private(set) var slots: [String: Int32] = [:]
    /// The id in each slot; "" marks a free slot (ids are never empty).
    private(set) var names: [String] = []
    private(set) var freeSlots: [Int32] = []
    // Doubly linked LRU list over slots: head = least recently used.
    private(set) var previous: [Int32] = []
    private(set) var next: [Int32] = []
    private(set) var head: Int32 = -1
    private(set) var tail: Int32 = -1

    init() {}

    var count: Int { slots.count }
    /// Number of slots ever allocated (live + free).
    var slotCount: Int { names.count }

    func slot(of name: String) -> Int32? { slots[name] }
    func isLive(_ slot: Int32) -> Bool { slot >= 0 && Int(slot) < names.count && !names[Int(slot)].isEmpty }
    var leastRecentlyUsed: Int32? { head >= 0 ? head : nil }

    /// The slot for `name`, allocating one when new; marks it most recently used. When a new name would exceed
    /// `capacity`, the least recently used name is removed first and its slot (returned as `evicted`) is reused,
    /// so the caller must clear what it keeps for `evicted` before storing the new name's state.
    mutating func touch(_ name: String, capacity: Int) -> (slot: Int32, isNew: Bool, evicted: Int32?) {
        if let slot = slots[name] {
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
            previous.append(-1)
            next.append(-1)
        }
        slots[name] = slot
        link(slot)
        return (slot, true, evicted)
    }

    mutating func remove(_ slot: Int32) {
        guard isLive(slot) else { return }
        unlink(slot)
        slots[names[Int(slot)]] = nil
        names[Int(slot)] = ""
        freeSlots.append(slot)
    }

    private mutating func moveToTail(_ slot: Int32) {
        guard slot != tail else { return }
        unlink(slot)
        link(slot)
    }

    private mutating func link(_ slot: Int32) {
        previous[Int(slot)] = tail
        next[Int(slot)] = -1
        if tail >= 0 { next[Int(tail)] = slot } else { head = slot }
        tail = slot
    }

    private mutating func unlink(_ slot: Int32) {
        let before = previous[Int(slot)]
        let after = next[Int(slot)]
        if before >= 0 { next[Int(before)] = after } else { head = after }
        if after >= 0 { previous[Int(after)] = before } else { tail = before }
        previous[Int(slot)] = -1
        next[Int(slot)] = -1
    }

    /// Slots from least to most recently used (for snapshots).
    var slotsInRecencyOrder: [Int32] {
        var order: [Int32] = []
        order.reserveCapacity(count)
        var slot = head
        while slot >= 0 {
            order.append(slot)
            slot = next[Int(slot)]
        }
        return order
    }

    /// Rebuilds a table from snapshot parts; nil when they are inconsistent.
    static func restore(names: [String], freeSlots: [Int32], recencyOrder: [Int32]) -> SlotTable? {
        var table = SlotTable()
        table.names = names
        table.freeSlots = freeSlots
        table.previous = [Int32](repeating: -1, count: names.count)
        table.next = [Int32](repeating: -1, count: names.count)
        for (index, name) in names.enumerated() where !name.isEmpty {
            guard table.slots.updateValue(Int32(index), forKey: name) == nil else { return nil }
        }
        guard recencyOrder.count == table.slots.count,
            freeSlots.count + table.slots.count == names.count,
            freeSlots.allSatisfy({ $0 >= 0 && Int($0) < names.count && names[Int($0)].isEmpty })
        else { return nil }
        for slot in recencyOrder {
            guard table.isLive(slot), table.previous[Int(slot)] == -1, slot != table.head else { return nil }
            table.link(slot)
        }
        return table
    }
}
