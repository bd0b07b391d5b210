/// The best `capacity` (key, score) pairs offered, kept sorted by score descending, ties by key ascending.
/// Selecting this way costs O(n log k) instead of sorting all n candidates, and the result does not depend on the
/// order of the offers (the order is total).
struct TopScores<Key: Comparable & BitwiseCopyable> {
    let capacity: Int
    private(set) var entries: [(key: Key, score: Double)] = []

    init(capacity: Int) {
        self.capacity = max(capacity, 0)
        entries.reserveCapacity(self.capacity + 1)
    }

    private static func precedes(_ a: (key: Key, score: Double), _ b: (key: Key, score: Double)) -> Bool {
        a.score != b.score ? a.score > b.score : a.key < b.key
    }

    /// Empties the list, keeping its storage.
    mutating func removeAll() { entries.removeAll(keepingCapacity: true) }

    mutating func offer(_ key: Key, _ score: Double) {
        let entry = (key: key, score: score)
        if entries.count == capacity {
            // Full: the entry replaces the last one, which it must precede (so its place is before the end).
            guard let last = entries.last, Self.precedes(entry, last) else { return }
            entries.removeLast()
        }
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if Self.precedes(entries[middle], entry) { low = middle + 1 } else { high = middle }
        }
        entries.insertShifting(entry, at: low)
    }
}

extension Array where Element: BitwiseCopyable {
    /// `insert(_:at:)` for plain values within reserved capacity: appends, then shifts the tail up one place,
    /// instead of the generic range replacement `insert` goes through (a call and checks per insert).
    @inline(__always) mutating func insertShifting(_ element: Element, at position: Int) {
        append(element)
        withUnsafeMutableBufferPointer { elements in
            var index = elements.count - 1
            while index > position {
                elements[index] = elements[index - 1]
                index -= 1
            }
            elements[position] = element
        }
    }
}
