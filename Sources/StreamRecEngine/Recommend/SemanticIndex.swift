/// An inverted-file (IVF) index over item vectors: items are grouped under the nearest of √n K-means centroids, and
/// a query scans only the lists of its `probes` nearest centroids. Items that got a vector since the last update
/// wait in `pending` and are scanned exhaustively. Once `pending` holds more than 256 items, they are assigned to
/// their nearest centroids; the centroids themselves are re-clustered (deterministically) when the
/// number of items has doubled since the last clustering. Both cost O(√n · d) amortised per new item. Items whose
/// vectors drift stay in their list until the next clustering (the index is approximate by design).
struct SemanticIndex: Sendable, Equatable {
    let dimensions: Int
    /// centroidCount × dimensions, unit length rows.
    private(set) var centroids: [Float] = []
    private(set) var lists: [[Int32]] = []
    /// Unit vectors of each list's items as they were when indexed, flattened (list size × dimensions): a probe
    /// reads one contiguous block instead of chasing every item's own storage.
    private(set) var listVectors: [[Float]] = []
    private(set) var pending: [Int32] = []
    private(set) var indexedCount = 0
    /// Items clustered by the last K-means run.
    private(set) var clusteredCount = 0

    init(dimensions: Int) { self.dimensions = dimensions }

    init?(dimensions: Int, centroids: [Float], lists: [[Int32]], listVectors: [[Float]], pending: [Int32],
          clustered: Int) {
        guard dimensions > 0, centroids.count == lists.count * dimensions, listVectors.count == lists.count,
            zip(lists, listVectors).allSatisfy({ $0.count * dimensions == $1.count })
        else { return nil }
        self.dimensions = dimensions
        self.centroids = centroids
        self.lists = lists
        self.listVectors = listVectors
        self.pending = pending
        indexedCount = lists.reduce(0) { $0 + $1.count }
        clusteredCount = clustered
    }

    var centroidCount: Int { lists.count }

    mutating func addPending(_ item: Int32) { pending.append(item) }

    var needsUpdate: Bool { pending.count > 256 }

    /// Folds `pending` into the index: assigns it to the current centroids, or re-clusters everything when the
    /// item count has doubled since the last clustering.
    mutating func update(liveItems: () -> [Int32], vector: (Int32) -> [Float], maxCentroids: Int) {
        if centroidCount == 0 || indexedCount + pending.count >= 2 * clusteredCount {
            rebuild(items: liveItems(), vector: vector, maxCentroids: maxCentroids)
            return
        }
        let means = (0..<centroidCount).map { Array(centroids[($0 * dimensions)..<(($0 + 1) * dimensions)]) }
        for item in pending {
            var unit = vector(item)
            guard unit.count == dimensions, VectorMath.norm(unit) > 0 else { continue }
            VectorMath.normalize(&unit)
            let nearest = Self.nearest(unit, among: means)
            lists[nearest].append(item)
            listVectors[nearest].append(contentsOf: unit)
            indexedCount += 1
        }
        pending = []
    }

    /// Clusters the given items' vectors (K-means, deterministic seeding, a few iterations on a sample) and
    /// assigns every item to its nearest centroid.
    /// - Complexity: O(n · √n · d) for n items; amortised by the rebuild rule.
    private mutating func rebuild(items: [Int32], vector: (Int32) -> [Float], maxCentroids: Int) {
        let vectors: [(item: Int32, vector: [Float])] = items.compactMap { item in
            var unit = vector(item)
            guard unit.count == dimensions, VectorMath.norm(unit) > 0 else { return nil }
            VectorMath.normalize(&unit)
            return (item, unit)
        }
        pending = []
        guard !vectors.isEmpty else {
            centroids = []
            lists = []
            listVectors = []
            indexedCount = 0
            clusteredCount = 0
            return
        }
        let count = min(max(1, Int(Double(vectors.count).squareRoot())), max(1, maxCentroids))
        var means: [[Float]] = (0..<count).map { vectors[$0 * vectors.count / count].vector }
        let sampleStride = max(1, vectors.count / (count * 32))
        for _ in 0..<4 {
            var sums = [[Float]](repeating: [Float](repeating: 0, count: dimensions), count: count)
            for index in stride(from: 0, to: vectors.count, by: sampleStride) {
                let nearest = Self.nearest(vectors[index].vector, among: means)
                VectorMath.add(vectors[index].vector, scaledBy: 1, to: &sums[nearest])
            }
            for index in 0..<count where VectorMath.norm(sums[index]) > 0 {
                VectorMath.normalize(&sums[index])
                means[index] = sums[index]
            }
        }
        var newLists = [[Int32]](repeating: [], count: count)
        var newVectors = [[Float]](repeating: [], count: count)
        for entry in vectors {
            let nearest = Self.nearest(entry.vector, among: means)
            newLists[nearest].append(entry.item)
            newVectors[nearest].append(contentsOf: entry.vector)
        }
        centroids = means.flatMap { $0 }
        lists = newLists
        listVectors = newVectors
        indexedCount = vectors.count
        clusteredCount = vectors.count
    }

    private static func nearest(_ vector: [Float], among means: [[Float]]) -> Int {
        var best = 0
        var bestScore = -Float.infinity
        vector.withUnsafeBufferPointer { query in
            for index in means.indices {
                let score = means[index].withUnsafeBufferPointer { mean in
                    var sum: Float = 0
                    for dimension in 0..<min(query.count, mean.count) { sum += query[dimension] * mean[dimension] }
                    return sum
                }
                if score > bestScore {
                    best = index
                    bestScore = score
                }
            }
        }
        return best
    }

    /// The pending items' vectors in one block (rows of `dimensions`, zeros for an item without a vector) with
    /// their squared norms, for many searches of an unchanged index: each vector is read (with a retain) and its
    /// norm summed once instead of on every search. nil when some vector is neither empty nor `dimensions` long.
    struct PendingVectors {
        fileprivate let rows: [Float]
        fileprivate let squaredNorms: [Float]
    }

    /// The pending items' ``PendingVectors``.
    func pendingVectors(_ vector: (Int32) -> [Float]) -> PendingVectors? {
        var rows: [Float] = []
        rows.reserveCapacity(pending.count * dimensions)
        var squaredNorms: [Float] = []
        squaredNorms.reserveCapacity(pending.count)
        for item in pending {
            let values = vector(item)
            guard values.count == dimensions else {
                guard values.isEmpty else { return nil }
                rows.append(contentsOf: repeatElement(0, count: dimensions))
                squaredNorms.append(0)
                continue
            }
            // Summed in index order, as `VectorMath.cosine(unit:_:)` sums it.
            var sum: Float = 0
            for value in values { sum += value * value }
            rows.append(contentsOf: values)
            squaredNorms.append(sum)
        }
        return PendingVectors(rows: rows, squaredNorms: squaredNorms)
    }

    /// Scores the items of the lists nearest to `query` (at most `scanLimit` of them) by cosine with their indexed
    /// unit vectors, and every pending item with `pendingVector` (or `pendingVectors` of this index, the same
    /// cosines bit for bit); offers each positive score to `offer`.
    /// - Parameter query: a unit vector.
    /// - Complexity: O(centroids · d + scanLimit · d + pending · d).
    @inline(__always)  // one caller: its `offer` is inlined into the scan loops instead of called per item
    func search(
        _ query: [Float], probes: Int, scanLimit: Int, pendingVectors: PendingVectors?,
        pendingVector: (Int32) -> [Float], offer: (Int32, Double) -> Void
    ) {
        var next = 0
        if let pendingVectors, pendingVectors.squaredNorms.count == pending.count, query.count == dimensions {
            // The dot products in dimension order per row, as the cosine functions add them.
            pendingVectors.rows.withUnsafeBufferPointer { rows in
                query.withUnsafeBufferPointer { query in
                    Self.forEachDot(rows: rows, count: pending.count, dimensions: dimensions, with: query) { row, dot in
                        let squaredNorm = pendingVectors.squaredNorms[row]
                        let similarity = squaredNorm > 0 ? dot / squaredNorm.squareRoot() : 0
                        if similarity > 0 { offer(pending[row], Double(similarity)) }
                    }
                }
            }
            next = pending.count
        }
        while next + 3 < pending.count {
            let similarities = VectorMath.cosines(
                unit: query, pendingVector(pending[next]), pendingVector(pending[next + 1]),
                pendingVector(pending[next + 2]), pendingVector(pending[next + 3]))
            for lane in 0..<4 where similarities[lane] > 0 { offer(pending[next + lane], Double(similarities[lane])) }
            next += 4
        }
        while next + 1 < pending.count {
            let (first, second) = VectorMath.cosines(
                unit: query, pendingVector(pending[next]), pendingVector(pending[next + 1]))
            if first > 0 { offer(pending[next], Double(first)) }
            if second > 0 { offer(pending[next + 1], Double(second)) }
            next += 2
        }
        if next < pending.count {
            let similarity = VectorMath.cosine(unit: query, pendingVector(pending[next]))
            if similarity > 0 { offer(pending[next], Double(similarity)) }
        }
        guard centroidCount > 0, query.count == dimensions else { return }
        // The `probes` best centroids (score descending, ties to the lower index), as a full sort would order them.
        var nearest: [(index: Int, score: Float)] = []
        nearest.reserveCapacity(probes + 1)
        let probes = max(1, probes)
        centroids.withUnsafeBufferPointer { centroids in
            query.withUnsafeBufferPointer { query in
                Self.forEachDot(rows: centroids, count: centroidCount, dimensions: dimensions, with: query) { index, score in
                    if nearest.count == probes, let last = nearest.last,
                        !(score > last.score || (score == last.score && index < last.index))
                    {
                        return
                    }
                    var place = nearest.count
                    while place > 0, score > nearest[place - 1].score { place -= 1 }
                    nearest.insert((index, score), at: place)
                    if nearest.count > probes { nearest.removeLast() }
                }
            }
        }
        var scanned = 0
        // Lopsided clusters (near-identical texts) must not turn a probe into a scan of the catalogue.
        for entry in nearest where scanned < scanLimit {
            let items = lists[entry.index]
            let count = min(items.count, scanLimit - scanned)
            scanned += count
            listVectors[entry.index].withUnsafeBufferPointer { vectors in
                query.withUnsafeBufferPointer { query in
                    Self.forEachDot(rows: vectors, count: count, dimensions: dimensions, with: query) { position, dot in
                        if dot > 0 { offer(items[position], Double(dot)) }
                    }
                }
            }
        }
    }

    /// Calls `body` with the dot product of each of the first `count` rows (`dimensions` wide) with `query`, in
    /// row order. Eight rows at a time, each sum still adding its products in dimension order (the same rounding
    /// as one row at a time): eight independent chains keep the floating-point units busy instead of waiting on
    /// one chain's latency. With `dimensions` a multiple of 4, each row's products are computed four dimensions
    /// at a time from contiguous loads and transposed in registers into per-dimension lanes (a few shuffles)
    /// instead of gathering eight scattered floats per dimension.
    @inline(__always)
    private static func forEachDot(
        rows: UnsafeBufferPointer<Float>, count: Int, dimensions: Int, with query: UnsafeBufferPointer<Float>,
        _ body: (Int, Float) -> Void
    ) {
        assert(rows.count >= count * dimensions && query.count >= dimensions)
        var row = 0
        if dimensions % 4 == 0, let rowBase = rows.baseAddress, let queryBase = query.baseAddress {
            let queryBytes = UnsafeRawPointer(queryBase)
            let rowBytes = dimensions &* MemoryLayout<Float>.stride
            while row + 8 <= count {
                // Offsets in wrapping arithmetic from the block's first row (all inside `rows`, checked above):
                // checked index arithmetic per load was about half the loop's instructions.
                let block = UnsafeRawPointer(rowBase + row &* dimensions)
                @inline(__always) func products(_ row: Int, _ offset: Int, _ weights: SIMD4<Float>) -> SIMD4<Float> {
                    block.loadUnaligned(fromByteOffset: row &* rowBytes &+ offset, as: SIMD4<Float>.self) * weights
                }
                // Lane j of `low` is row + j, of `high` row + 4 + j; lanes never mix.
                var low = SIMD4<Float>()
                var high = SIMD4<Float>()
                var offset = 0
                while offset < rowBytes {
                    let weights = queryBytes.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
                    let (l0, l1, l2, l3) = VectorMath.transposed(
                        products(0, offset, weights), products(1, offset, weights),
                        products(2, offset, weights), products(3, offset, weights))
                    let (h0, h1, h2, h3) = VectorMath.transposed(
                        products(4, offset, weights), products(5, offset, weights),
                        products(6, offset, weights), products(7, offset, weights))
                    low += l0
                    high += h0
                    low += l1
                    high += h1
                    low += l2
                    high += h2
                    low += l3
                    high += h3
                    offset &+= 4 &* MemoryLayout<Float>.stride
                }
                for lane in 0..<4 { body(row + lane, low[lane]) }
                for lane in 0..<4 { body(row + 4 + lane, high[lane]) }
                row += 8
            }
        }
        while row + 8 <= count {
            // Lane j is row + j: lanes never mix, so each is the plain in-order sum.
            var sums = SIMD8<Float>()
            for dimension in row * dimensions..<(row * dimensions + dimensions) {
                let values = SIMD8(
                    rows[dimension], rows[dimension + dimensions], rows[dimension + 2 * dimensions],
                    rows[dimension + 3 * dimensions], rows[dimension + 4 * dimensions],
                    rows[dimension + 5 * dimensions], rows[dimension + 6 * dimensions],
                    rows[dimension + 7 * dimensions])
                sums += values * SIMD8(repeating: query[dimension - row * dimensions])
            }
            for lane in 0..<8 { body(row + lane, sums[lane]) }
            row += 8
        }
        while row < count {
            let base = row * dimensions
            var sum: Float = 0
            for dimension in 0..<dimensions { sum += rows[base + dimension] * query[dimension] }
            body(row, sum)
            row += 1
        }
    }
}
