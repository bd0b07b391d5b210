/// The last `capacity` event ids seen, to drop redelivered or resent events. Bounded: the oldest id is
/// forgotten when a new one arrives at capacity, so a duplicate older than the window is applied again.
/// Part of the checkpoint, so a restart remembers exactly what the state already holds.
public struct DeduplicationWindow: Sendable {
    public let capacity: Int
    /// A ring of the ids in arrival order; `oldest` indexes the next one to forget once full.
    private var ring: [String] = []
    private var oldest = 0
    private var members: Set<String> = []

    public init(capacity: Int, recent: [String] = []) {
        self.capacity = capacity
        for id in recent { _ = insert(id) }
    }

    /// Records `id`; false when it is already in the window (a duplicate).
    /// - Complexity: O(1) amortised.
    public mutating func insert(_ id: String) -> Bool {
        guard capacity > 0 else { return true }
        guard members.insert(id).inserted else { return false }
        if ring.count < capacity {
            ring.append(id)
        } else {
            members.remove(ring[oldest])
            ring[oldest] = id
            oldest = (oldest + 1) % capacity
        }
        return true
    }

    /// Oldest first, as stored in the checkpoint.
    public var recent: [String] { Array(ring[oldest...] + ring[..<oldest]) }
    public var count: Int { ring.count }
}
