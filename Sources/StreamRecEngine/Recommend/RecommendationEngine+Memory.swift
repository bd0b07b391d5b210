/// Bytes held by the engine's structures, counted from their sizes and capacities (array headers, elements,
/// out-of-line string storage, hash indexes). An estimate of live heap bytes that ignores allocator rounding;
/// `streamrec bench engine` reports it next to the process RSS.
public struct EngineMemoryEstimate: Sendable, Equatable {
    /// Per-user state plus the user id table.
    public var userBytes: Int
    /// Per-item state plus the item id table and the trending list.
    public var itemBytes: Int
    /// Query state plus the query id table.
    public var queryBytes: Int
    /// The recent-session store.
    public var sessionBytes: Int
    /// The semantic index.
    public var indexBytes: Int

    public var totalBytes: Int { userBytes + itemBytes + queryBytes + sessionBytes + indexBytes }
}

extension RecommendationEngine {
    /// - Complexity: O(state size); meant for benchmarks and diagnostics, not the hot path.
    public func estimatedMemory() -> EngineMemoryEstimate {
        let arrayHeader = 32
        func array<Element>(_ values: [Element]) -> Int {
            values.capacity == 0 ? 0 : arrayHeader + values.capacity * MemoryLayout<Element>.stride
        }
        func string(_ value: String) -> Int { value.utf8.count > 15 ? arrayHeader + value.utf8.count : 0 }
        func chunked<Element>(_ values: ChunkedArray<Element>) -> Int {
            // The list of chunk references, then each chunk: object header and room for its elements.
            arrayHeader + values.chunkCount
                * (8 + arrayHeader + ChunkedArray<Element>.elementsPerChunk * MemoryLayout<Element>.stride)
        }
        func table(_ table: SlotTable) -> Int {
            // Names, liveness bits, LRU links, free slots, the hash index.
            chunked(table.names) + array(table.liveBits) + chunked(table.links) + array(table.freeSlots)
                + chunked(table.buckets) + table.names.reduce(0) { $0 + string($1) }
        }
        let userBytes = table(userTable) + chunked(users)
            + users.reduce(0) { $0 + array($1.history) + array($1.queries) + array($1.sessions) + array($1.interest) }
        let itemBytes = table(itemTable) + chunked(items) + array(trending)
            + items.reduce(0) {
                $0 + array($1.neighbours.entries) + array($1.recentSessions) + array($1.vector) + string($1.category ?? "")
            }
        let queryBytes = table(queryTable) + chunked(queries)
            + queries.reduce(0) { $0 + array($1.clicks.entries) + array($1.vector) }
        let sessionBytes = sessions.storedBytes
        let indexBytes = array(semanticIndex.centroids) + array(semanticIndex.lists) + array(semanticIndex.pending)
            + semanticIndex.lists.reduce(0) { $0 + array($1) } + array(semanticIndex.listVectors)
            + semanticIndex.listVectors.reduce(0) { $0 + array($1) }
        return EngineMemoryEstimate(
            userBytes: userBytes, itemBytes: itemBytes, queryBytes: queryBytes, sessionBytes: sessionBytes,
            indexBytes: indexBytes)
    }
}
