/// The best `capacity` (key, score) pairs offered, kept sorted by score descending, ties by key ascending.
/// Selecting this way costs O(n log k) instead of sorting all n candidates, and the result does not depend on the
/// order of the offers (the order is total).
struct TopScores<Key: Comparable> {
    let capacity: Int
    private(set) var entries: [(key: Key, score: Double)] = []

    init(capacity: Int) {
        self.capacity = max(capacity, 0)
        entries.reserveCapacity(self.capacity + 1)
    }

    private static func precedes(_ a: (key: Key, score: Double), _ b: (key: Key, score: Double)) -> Bool {
        a.score != b.score ? a.score > b.score : a.key < b.key
    }

    mutating func offer(_ key: Key, _ score: Double) {
        let entry = (key: key, score: score)
        if entries.count == capacity {
            guard let last = entries.last, Self.precedes(entry, last) else { return }
        }
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if Self.precedes(entries[middle], entry) { low = middle + 1 } else { high = middle }
        }
        entries.insert(entry, at: low)
        if entries.count > capacity { entries.removeLast() }
    }
}
