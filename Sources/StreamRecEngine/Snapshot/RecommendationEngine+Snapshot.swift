#if canImport(FoundationEssentials)
import struct FoundationEssentials.Data
import class FoundationEssentials.JSONDecoder
import class FoundationEssentials.JSONEncoder
#else
import struct Foundation.Data
import class Foundation.JSONDecoder
import class Foundation.JSONEncoder
#endif

/// The snapshot format version written by ``RecommendationEngine/snapshot()``; bumped on any layout change.
/// Version 2 added each item's availability; version 1 snapshots still load (every item available).
public let engineSnapshotFormatVersion: UInt32 = 2
private let oldestReadableSnapshotFormatVersion: UInt32 = 1
private let snapshotMagic: [UInt8] = Array("SREN".utf8)

extension RecommendationEngine {
    /// The whole state as versioned binary: "SREN", format version, the configuration (JSON, sorted keys), then
    /// every table in slot order. Equal states give equal bytes; nothing depends on dictionary order.
    /// - Parameter capacity: bytes to reserve up front, such as the previous snapshot's size.
    /// - Complexity: O(state size).
    public func snapshot(reservingCapacity capacity: Int = 0) -> [UInt8] {
        var writer = BinaryWriter(reservingCapacity: capacity)
        for byte in snapshotMagic { writer.write(byte) }
        writer.write(engineSnapshotFormatVersion)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding a plain Codable struct of numbers cannot fail.
        writer.write(raw: [UInt8]((try? encoder.encode(configuration)) ?? Data()))
        writer.write(eventCount)
        writer.write(popularityClock.referenceMilliseconds)
        writer.write(coOccurrenceClock.referenceMilliseconds)
        for table in [itemTable, queryTable, userTable] { write(table, to: &writer) }

        for item in items {
            writer.write(item.neighbours.entries) { $0.write($1.key); $0.write($1.weight) }
            writer.write(item.occurrence)
            writer.write(item.popularity)
            writer.write(item.recentSessions)
            writer.write(item.vector)
            writer.write(item.category)
            writer.write(item.indexSeed)
            writer.write(item.isTrending)
            writer.write(item.isAvailable)
        }
        for query in queries {
            writer.write(query.clicks.entries) { $0.write($1.key); $0.write($1.weight) }
            writer.write(query.total)
            writer.write(query.vector)
        }
        for user in users {
            writer.write(user.history) {
                $0.write($1.item)
                $0.write(UInt8(EventType.allCases.firstIndex(of: $1.type)!))
                $0.write($1.session)
                $0.write($1.timeMilliseconds)
            }
            writer.write(user.queries) { $0.write($1.query); $0.write($1.timeMilliseconds) }
            writer.write(user.sessions) { $0.write($1.hash); $0.write($1.serial) }
            writer.write(user.interest)
            writer.write(user.interestTimeMilliseconds)
            writer.write(user.lastEventMilliseconds)
        }
        writer.write(UInt64(sessions.capacity))
        writer.write(sessions.nextSerial)
        writer.write(sessions.serials)
        writer.write(UInt32(sessions.slotCount))
        for slot in 0..<sessions.slotCount { writer.write(sessions.items(inSlot: slot)) }
        writer.write(sessions.lastTimes) { $0.write($1) }
        writer.write(trending)
        writer.write(semanticIndex.centroids)
        writer.write(semanticIndex.lists) { $0.write($1) }
        writer.write(semanticIndex.listVectors) { $0.write($1) }
        writer.write(semanticIndex.pending)
        writer.write(UInt64(semanticIndex.clusteredCount))
        return writer.bytes
    }

    private func write(_ table: SlotTable, to writer: inout BinaryWriter) {
        writer.write(table.names) { $0.write($1) }
        writer.write(table.freeSlots)
        writer.write(table.slotsInRecencyOrder)
    }

    /// Restores an engine from ``snapshot()`` bytes; its recommendations equal the original's.
    /// - Parameter textEncoder: must be the encoder the snapshotted engine used (default: the built-in one).
    /// - Throws: ``SnapshotError`` when the bytes are not a valid snapshot of this format version.
    public init(snapshot bytes: [UInt8], textEncoder: (any TextEncoder)? = nil) throws(SnapshotError) {
        var reader = BinaryReader(bytes)
        for byte in snapshotMagic where try reader.read(UInt8.self) != byte {
            throw reader.failure("not an engine snapshot (bad magic)")
        }
        let version = try reader.read(UInt32.self)
        guard (oldestReadableSnapshotFormatVersion...engineSnapshotFormatVersion).contains(version) else {
            throw reader.failure(
                "format version \(version); this build reads versions \(oldestReadableSnapshotFormatVersion) to \(engineSnapshotFormatVersion)")
        }
        let configurationJSON = try reader.readRaw()
        guard let configuration = try? JSONDecoder().decode(EngineConfiguration.self, from: Data(configurationJSON)) else {
            throw reader.failure("unreadable configuration")
        }
        self.init(configuration: configuration, textEncoder: textEncoder)
        let dimensions = self.configuration.semantic.dimensions
        eventCount = try reader.read(Int64.self)
        popularityClock.referenceMilliseconds = try reader.readOptionalInt64()
        coOccurrenceClock.referenceMilliseconds = try reader.readOptionalInt64()
        itemTable = try Self.readTable(&reader)
        queryTable = try Self.readTable(&reader)
        userTable = try Self.readTable(&reader)
        let itemLimit = itemTable.slotCount
        let queryLimit = queryTable.slotCount

        func readCounters(_ reader: inout BinaryReader) throws(SnapshotError) -> SpaceSavingCounters {
            SpaceSavingCounters(entries: try reader.readArray(minimumElementBytes: 8) {
                (reader: inout BinaryReader) throws(SnapshotError) in
                SpaceSavingCounters.Entry(key: try reader.readSlot(limit: itemLimit), weight: try reader.readFloat())
            })
        }
        func readVector(_ reader: inout BinaryReader) throws(SnapshotError) -> [Float] {
            let vector = try reader.readFloats()
            guard vector.isEmpty || vector.count == dimensions else { throw reader.failure("vector of wrong size") }
            return vector
        }
        items = ChunkedArray()
        items.reserveCapacity(itemLimit)
        for _ in 0..<itemLimit {
            var item = ItemState()
            item.neighbours = try readCounters(&reader)
            item.occurrence = try reader.readFloat()
            item.popularity = try reader.readFloat()
            item.recentSessions = try reader.readUInt32s()
            item.vector = try readVector(&reader)
            item.category = try reader.readOptionalString()
            item.indexSeed = try reader.read(UInt64.self)
            item.isTrending = try reader.readBool()
            if version >= 2 { item.isAvailable = try reader.readBool() }
            if !item.isAvailable { someItemWasWithdrawn = true }
            items.append(item)
        }
        queries = ChunkedArray()
        for _ in 0..<queryLimit {
            var query = QueryState()
            query.clicks = try readCounters(&reader)
            query.total = try reader.readFloat()
            query.vector = try readVector(&reader)
            queries.append(query)
        }
        users = ChunkedArray()
        for _ in 0..<userTable.slotCount {
            var user = UserState()
            user.history = try reader.readArray(minimumElementBytes: 17) { (reader: inout BinaryReader) throws(SnapshotError) in
                let item = try reader.readSlot(limit: itemLimit)
                let typeIndex = Int(try reader.read(UInt8.self))
                guard typeIndex < EventType.allCases.count else { throw reader.failure("invalid event type") }
                return Interaction(item: item, type: EventType.allCases[typeIndex], session: try reader.read(UInt32.self),
                                   timeMilliseconds: try reader.read(Int64.self))
            }
            user.queries = try reader.readArray(minimumElementBytes: 12) { (reader: inout BinaryReader) throws(SnapshotError) in
                RecentQuery(query: try reader.readSlot(limit: queryLimit), timeMilliseconds: try reader.read(Int64.self))
            }
            user.sessions = try reader.readArray(minimumElementBytes: 12) { (reader: inout BinaryReader) throws(SnapshotError) in
                (hash: try reader.read(UInt64.self), serial: try reader.read(UInt32.self))
            }
            user.interest = try readVector(&reader)
            user.interestTimeMilliseconds = try reader.read(Int64.self)
            user.lastEventMilliseconds = try reader.read(Int64.self)
            users.append(user)
        }
        let capacity = Int(try reader.read(UInt64.self))
        let nextSerial = try reader.read(UInt32.self)
        let serials = try reader.readUInt32s()
        let sessionItems = try reader.readArray(minimumElementBytes: 4) { (reader: inout BinaryReader) throws(SnapshotError) in
            try reader.readSlots(limit: itemLimit)
        }
        let lastTimes = try reader.readArray(minimumElementBytes: 8) { (reader: inout BinaryReader) throws(SnapshotError) in
            try reader.read(Int64.self)
        }
        guard capacity == self.configuration.capacity.maxSessions,
            let store = SessionStore(capacity: capacity, itemsPerSession: self.configuration.capacity.itemsPerSession,
                                     serials: serials, items: sessionItems, lastTimes: lastTimes,
                                     nextSerial: nextSerial)
        else { throw reader.failure("inconsistent session store") }
        sessions = store
        trending = try reader.readSlots(limit: itemLimit)
        let centroids = try reader.readFloats()
        let lists = try reader.readArray(minimumElementBytes: 4) { (reader: inout BinaryReader) throws(SnapshotError) in
            try reader.readSlots(limit: itemLimit)
        }
        let listVectors = try reader.readArray(minimumElementBytes: 4) { (reader: inout BinaryReader) throws(SnapshotError) in
            try reader.readFloats()
        }
        let pending = try reader.readSlots(limit: itemLimit)
        let clustered = Int(clamping: try reader.read(UInt64.self))
        guard let index = SemanticIndex(dimensions: dimensions, centroids: centroids, lists: lists,
                                        listVectors: listVectors, pending: pending, clustered: clustered)
        else {
            throw reader.failure("inconsistent semantic index")
        }
        semanticIndex = index
        guard reader.isAtEnd else { throw reader.failure("unexpected bytes after the snapshot") }
    }

    private static func readTable(_ reader: inout BinaryReader) throws(SnapshotError) -> SlotTable {
        let names = try reader.readArray(minimumElementBytes: 4) { (reader: inout BinaryReader) throws(SnapshotError) in
            try reader.readString()
        }
        let free = try reader.readSlots(limit: names.count)
        let order = try reader.readSlots(limit: names.count)
        guard let table = SlotTable.restore(names: names, freeSlots: free, recencyOrder: order) else {
            throw reader.failure("inconsistent id table")
        }
        return table
    }
}
