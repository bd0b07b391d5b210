/// A key with its score, ranked best first: score descending, then key ascending (the order of ``TopScores``).
struct ScoredKey<Key: Comparable & BitwiseCopyable>: BitwiseCopyable {
    var key: Key
    var score: Double

    @inline(__always) func precedes(_ other: Self) -> Bool {
        score != other.score ? score > other.score : key < other.key
    }
}

extension UnsafeMutableBufferPointer {
    /// Moves the best `k` entries (score descending, then key ascending) to the front, best first; the others
    /// stay behind in no particular order. Returns how many are in front (min(k, count)).
    ///
    /// The front is what sorting everything and taking the first `k` gives. A partition-based selection, O(n)
    /// expected, instead of inserting each of the n entries into a sorted top-k list (a search and a shift per
    /// entry that enters it).
    @discardableResult
    func selectBest<Key>(_ k: Int) -> Int where Element == ScoredKey<Key> {
        let k = Swift.min(Swift.max(k, 0), count)
        guard k > 0 else { return 0 }
        // Invariant: the boundary between the best k and the rest lies inside low..<high.
        var low = 0
        var high = count
        var rounds = 0
        while high - low > 16, k > low, k < high {
            rounds += 1
            if rounds > 64 { break }  // pathological pivots: sort what is left instead
            let middle = low + (high - low) / 2
            // Median of three as the pivot.
            if self[middle].precedes(self[low]) { swapAt(middle, low) }
            if self[high - 1].precedes(self[low]) { swapAt(high - 1, low) }
            if self[high - 1].precedes(self[middle]) { swapAt(high - 1, middle) }
            let pivot = self[middle]
            var left = low
            var right = high - 1
            while left <= right {
                while self[left].precedes(pivot) { left += 1 }
                while pivot.precedes(self[right]) { right -= 1 }
                if left <= right {
                    swapAt(left, right)
                    left += 1
                    right -= 1
                }
            }
            // low...right: not after the pivot; left..<high: not before it; between them: equal to it.
            if k <= right + 1 {
                high = right + 1
            } else if k >= left {
                low = left
            } else {
                low = k
                high = k
                break
            }
        }
        if low < high, k > low, k < high { self[low..<high].sort { $0.precedes($1) } }
        self[0..<k].sort { $0.precedes($1) }
        return k
    }
}

/// The best `capacity` entries offered (score descending, ties by key ascending; keys distinct), as ``TopScores``
/// keeps them, but held as a binary heap with the weakest on top: an entry that enters costs O(log capacity)
/// moves instead of a shift of the list, and the weakest (the bar to enter) is read in O(1). Noncopyable scratch:
/// a batch's calls reuse one, and its writes need no uniqueness checks.
struct TopHeap<Key: Comparable & BitwiseCopyable>: ~Copyable {
    let capacity: Int
    /// Every parent is the weaker of itself and its children (its children precede it).
    private var heap: ScratchBuffer<ScoredKey<Key>>

    init(capacity: Int) {
        self.capacity = max(capacity, 0)
        heap = ScratchBuffer(capacity: self.capacity)
    }

    var isFull: Bool { heap.count == capacity }

    /// The weakest entry kept (every other precedes it); nil when empty.
    var weakest: ScoredKey<Key>? { heap.count > 0 ? heap[0] : nil }

    /// Empties the heap, keeping its storage.
    mutating func removeAll() { heap.removeAll() }

    mutating func offer(_ key: Key, _ score: Double) {
        let entry = ScoredKey(key: key, score: score)
        if heap.count < capacity {
            heap.append(entry)
            let heap = heap.mutableElements
            var position = heap.count - 1
            while position > 0 {
                let parent = (position - 1) / 2
                guard heap[parent].precedes(entry) else { break }
                heap[position] = heap[parent]
                position = parent
            }
            heap[position] = entry
            return
        }
        // Full: the entry replaces the weakest, which it must precede.
        guard heap.count > 0, entry.precedes(heap[0]) else { return }
        let heap = heap.mutableElements
        var position = 0
        while true {
            var child = 2 * position + 1
            guard child < heap.count else { break }
            if child + 1 < heap.count, heap[child].precedes(heap[child + 1]) { child += 1 }
            guard entry.precedes(heap[child]) else { break }
            heap[position] = heap[child]
            position = child
        }
        heap[position] = entry
    }

    /// Whether an entry with this key is kept. O(capacity).
    func contains(_ key: Key) -> Bool { heap.elements.contains { $0.key == key } }

    /// Sorts the entries kept best first, in place, and returns them (valid until the heap next changes; it is
    /// no heap any more: ``removeAll()`` before the next selection). A heap sort (the weakest moved behind the
    /// rest one by one): no comparator closure, merge buffers or copy.
    mutating func sortInPlace() -> UnsafeBufferPointer<ScoredKey<Key>> {
        let entries = heap.mutableElements
        var end = entries.count - 1
        while end > 0 {
            let moved = entries[end]
            entries[end] = entries[0]
            var position = 0
            while true {
                var child = 2 * position + 1
                guard child < end else { break }
                if child + 1 < end, entries[child].precedes(entries[child + 1]) { child += 1 }
                guard moved.precedes(entries[child]) else { break }
                entries[position] = entries[child]
                position = child
            }
            entries[position] = moved
            end -= 1
        }
        return UnsafeBufferPointer(entries)
    }
}
