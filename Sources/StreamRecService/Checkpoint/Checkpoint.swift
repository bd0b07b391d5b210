import StreamRecKafka

/// Everything the service needs to resume exactly where a durable state left off: the engine snapshot,
/// the input offsets it reflects, the recent event ids used to drop duplicates and the refreshes those
/// events imply that were not yet published. Written as one file so they can never disagree.
public struct Checkpoint: Sendable, Equatable {
    /// The next offset to read per input partition (last applied + 1).
    public var nextOffsets: [KafkaTopicPartition: Int64]
    /// The deduplication window, oldest first.
    public var recentEventIDs: [String]
    /// ``RecommendationEngine/snapshot()`` bytes.
    public var engineSnapshot: [UInt8]
    /// Wall-clock time the checkpoint was taken, for the snapshot-age metric.
    public var createdAtMilliseconds: Int64
    /// Users whose recommendations are owed for events at or below `nextOffsets` (coalesced while behind),
    /// oldest first: published after a restore, since the offsets of their events are already committed.
    var pendingRefreshes: [(userID: String, entry: PendingRefreshes.Entry)]

    public init(
        nextOffsets: [KafkaTopicPartition: Int64], recentEventIDs: [String], engineSnapshot: [UInt8],
        createdAtMilliseconds: Int64
    ) {
        self.init(
            nextOffsets: nextOffsets, recentEventIDs: recentEventIDs, engineSnapshot: engineSnapshot,
            createdAtMilliseconds: createdAtMilliseconds, pendingRefreshes: [])
    }

    init(
        nextOffsets: [KafkaTopicPartition: Int64], recentEventIDs: [String], engineSnapshot: [UInt8],
        createdAtMilliseconds: Int64, pendingRefreshes: [(userID: String, entry: PendingRefreshes.Entry)]
    ) {
        self.nextOffsets = nextOffsets
        self.recentEventIDs = recentEventIDs
        self.engineSnapshot = engineSnapshot
        self.createdAtMilliseconds = createdAtMilliseconds
        self.pendingRefreshes = pendingRefreshes
    }

    public static func == (lhs: Checkpoint, rhs: Checkpoint) -> Bool {
        lhs.nextOffsets == rhs.nextOffsets && lhs.recentEventIDs == rhs.recentEventIDs
            && lhs.engineSnapshot == rhs.engineSnapshot && lhs.createdAtMilliseconds == rhs.createdAtMilliseconds
            && lhs.pendingRefreshes.map(\.userID) == rhs.pendingRefreshes.map(\.userID)
            && lhs.pendingRefreshes.map(\.entry) == rhs.pendingRefreshes.map(\.entry)
    }

    static let magic: [UInt8] = Array("SRCK".utf8)
    /// Bumped whenever the layout below changes. Version 1 (no pending refreshes) is still read; other
    /// versions are refused with a clear error.
    static let formatVersion: UInt32 = 2

    /// Layout (little-endian): magic, version, created-at, offsets (sorted by topic, partition), event ids,
    /// pending refreshes (since version 2: user, source topic, partition, offset, event time, record
    /// timestamp or `Int64.min`), engine snapshot, then a CRC-32 of everything before it so a damaged file is
    /// detected.
    public func encoded() -> [UInt8] {
        var bytes = encodedHeader()
        let checksum = CRC32.checksum(engineSnapshot, continuing: CRC32.checksum(bytes))
        bytes += engineSnapshot
        withUnsafeBytes(of: checksum.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The file's bytes before the engine snapshot (its length included): ``CheckpointStore`` writes them,
    /// the snapshot and the checksum one after the other instead of copying a snapshot of hundreds of MB
    /// into one buffer.
    func encodedHeader() -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(Self.magic)
        writer.integer(Self.formatVersion)
        writer.integer(createdAtMilliseconds)
        writer.integer(UInt32(nextOffsets.count))
        for (partition, offset) in nextOffsets.sorted(by: { $0.key < $1.key }) {
            writer.string(partition.topic)
            writer.integer(partition.partition)
            writer.integer(offset)
        }
        writer.integer(UInt32(recentEventIDs.count))
        for id in recentEventIDs { writer.string(id) }
        writer.integer(UInt32(pendingRefreshes.count))
        for (userID, entry) in pendingRefreshes {
            writer.string(userID)
            writer.string(entry.source.topic)
            writer.integer(entry.source.partition)
            writer.integer(entry.source.offset)
            writer.integer(entry.eventTime)
            writer.integer(entry.recordTimestamp ?? Int64.min)
        }
        writer.integer(UInt64(engineSnapshot.count))
        return writer.buffer
    }

    public init(decoding bytes: [UInt8]) throws(CheckpointError) {
        guard bytes.count >= Self.magic.count + 8, Array(bytes.prefix(4)) == Self.magic else {
            throw CheckpointError("not a streamrec checkpoint (bad magic)")
        }
        let body = bytes.dropLast(4)
        var reader = ByteReader(bytes: bytes, end: bytes.count - 4)
        var crcReader = ByteReader(bytes: bytes, end: bytes.count)
        crcReader.position = bytes.count - 4
        guard let storedChecksum: UInt32 = crcReader.integer(), storedChecksum == CRC32.checksum(body) else {
            throw CheckpointError("checksum mismatch: the file is damaged")
        }
        reader.position = Self.magic.count
        guard let version: UInt32 = reader.integer() else { throw CheckpointError("truncated header") }
        guard version == 1 || version == Self.formatVersion else {
            throw CheckpointError("format version \(version), this build reads version \(Self.formatVersion)")
        }
        guard let createdAt: Int64 = reader.integer(), let offsetCount: UInt32 = reader.integer() else {
            throw CheckpointError("truncated header")
        }
        var offsets: [KafkaTopicPartition: Int64] = [:]
        for _ in 0..<offsetCount {
            guard let topic = reader.string(), let partition: Int32 = reader.integer(), let offset: Int64 = reader.integer()
            else { throw CheckpointError("truncated offsets") }
            offsets[KafkaTopicPartition(topic: topic, partition: partition)] = offset
        }
        guard let idCount: UInt32 = reader.integer() else { throw CheckpointError("truncated event ids") }
        var ids: [String] = []
        ids.reserveCapacity(Int(idCount))
        for _ in 0..<idCount {
            guard let id = reader.string() else { throw CheckpointError("truncated event ids") }
            ids.append(id)
        }
        var pending: [(userID: String, entry: PendingRefreshes.Entry)] = []
        if version >= 2 {
            guard let pendingCount: UInt32 = reader.integer() else { throw CheckpointError("truncated pending refreshes") }
            pending.reserveCapacity(Int(pendingCount))
            for _ in 0..<pendingCount {
                guard let userID = reader.string(), let topic = reader.string(), let partition: Int32 = reader.integer(),
                    let offset: Int64 = reader.integer(), let eventTime: Int64 = reader.integer(),
                    let recordTimestamp: Int64 = reader.integer()
                else { throw CheckpointError("truncated pending refreshes") }
                pending.append((userID, PendingRefreshes.Entry(
                    source: .init(topic: topic, partition: partition, offset: offset), eventTime: eventTime,
                    recordTimestamp: recordTimestamp == Int64.min ? nil : recordTimestamp)))
            }
        }
        guard let snapshotLength: UInt64 = reader.integer(), let snapshot = reader.bytes(count: Int(snapshotLength)),
            reader.position == reader.end
        else { throw CheckpointError("truncated engine snapshot") }
        self.init(
            nextOffsets: offsets, recentEventIDs: ids, engineSnapshot: snapshot, createdAtMilliseconds: createdAt,
            pendingRefreshes: pending)
    }
}

/// A checkpoint that cannot be read or written; the service refuses to start rather than lose state.
public struct CheckpointError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { "checkpoint: \(reason)" }
}

struct ByteWriter {
    var buffer: [UInt8] = []

    mutating func bytes(_ bytes: some Sequence<UInt8>) { buffer.append(contentsOf: bytes) }

    mutating func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    mutating func string(_ value: String) {
        // Straight from the string: an array per string cost an allocation for each of the window's event ids.
        integer(UInt32(value.utf8.count))
        bytes(value.utf8)
    }
}

struct ByteReader {
    let bytes: [UInt8]
    let end: Int
    var position = 0

    init(bytes: [UInt8], end: Int) {
        self.bytes = bytes
        self.end = end
    }

    mutating func integer<T: FixedWidthInteger>() -> T? {
        let size = MemoryLayout<T>.size
        guard position + size <= end else { return nil }
        var value = T.zero
        for index in 0..<size { value |= T(truncatingIfNeeded: bytes[position + index]) << (8 * index) }
        position += size
        return value
    }

    mutating func bytes(count: Int) -> [UInt8]? {
        guard count >= 0, position + count <= end else { return nil }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    mutating func string() -> String? {
        guard let length: UInt32 = integer(), let utf8 = bytes(count: Int(length)) else { return nil }
        return String(decoding: utf8, as: UTF8.self)
    }
}

/// CRC-32 (IEEE), enough to tell a damaged checkpoint from a good one. Slice-by-8: eight table lookups per
/// eight bytes instead of one per byte (a byte at a time over a snapshot of hundreds of MB took ≈ 2 % of
/// `serve`'s CPU); the result is the same CRC.
enum CRC32 {
    /// Eight 256-entry tables back to back: table 0 is the classic byte table; entry `i` of table `k` is the
    /// CRC of byte `i` followed by `k` zero bytes.
    static let table: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var crc = UInt32(index)
            for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
            table[index] = crc
        }
        for slice in 1..<8 {
            for index in 0..<256 {
                let previous = table[(slice - 1) * 256 + index]
                table[slice * 256 + index] = table[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return table
    }()

    /// - Parameter previous: the checksum of the bytes before these (0 when there are none), so a file can
    ///   be checksummed part by part.
    static func checksum(_ bytes: [UInt8], continuing previous: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBufferPointer { checksum($0, continuing: previous) }
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 { bytes.withUnsafeBufferPointer { checksum($0) } }

    static func checksum(_ bytes: UnsafeBufferPointer<UInt8>, continuing previous: UInt32 = 0) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            var crc: UInt32 = previous ^ 0xFFFF_FFFF
            var index = 0
            let count = bytes.count
            while index + 8 <= count {
                // Little-endian: the first four bytes fold into the running CRC.
                let low = crc ^ (UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8
                    | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24)
                crc = table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)] ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(bytes[index + 4])] ^ table[2 * 256 + Int(bytes[index + 5])]
                    ^ table[256 + Int(bytes[index + 6])] ^ table[Int(bytes[index + 7])]
                index += 8
            }
            while index < count {
                crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
            return crc ^ 0xFFFF_FFFF
        }
    }
}
