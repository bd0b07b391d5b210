/// Little-endian binary writing for snapshots: fixed-width integers, IEEE floats by bit pattern, length-prefixed
/// strings and arrays. The same state always gives the same bytes.
struct BinaryWriter {
    private(set) var bytes: [UInt8] = []

    /// - Parameter capacity: bytes to reserve (growing from empty copied a 50 MB snapshot about a dozen times).
    init(reservingCapacity capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func write<Integer: FixedWidthInteger>(_ value: Integer) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func write(_ value: Float) { write(value.bitPattern) }
    mutating func write(_ value: Double) { write(value.bitPattern) }
    mutating func write(_ value: Bool) { write(UInt8(value ? 1 : 0)) }
    mutating func write(_ value: String) {
        write(UInt32(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }
    mutating func write(_ value: String?) {
        write(value != nil)
        if let value { write(value) }
    }
    mutating func write(_ value: Int64?) {
        write(value != nil)
        if let value { write(value) }
    }
    mutating func write(raw: [UInt8]) {
        write(UInt32(raw.count))
        bytes.append(contentsOf: raw)
    }
    mutating func write<Values: Collection>(_ values: Values, _ writeElement: (inout BinaryWriter, Values.Element) -> Void) {
        write(UInt32(values.count))
        for value in values { writeElement(&self, value) }
    }
    mutating func write(_ values: [Float]) { values.withUnsafeBufferPointer { writeElements($0) { $0.write($1) } } }
    mutating func write(_ values: [Int32]) { values.withUnsafeBufferPointer { write($0) } }
    mutating func write(_ values: UnsafeBufferPointer<Int32>) { writeElements(values) { $0.write($1) } }
    mutating func write(_ values: [UInt32]) { values.withUnsafeBufferPointer { writeElements($0) { $0.write($1) } } }

    /// Count, then the elements: on a little-endian machine their memory already is the encoding, so one copy
    /// (vectors are most of a snapshot's bytes).
    private mutating func writeElements<Element: BitwiseCopyable>(
        _ values: UnsafeBufferPointer<Element>, _ writeElement: (inout BinaryWriter, Element) -> Void
    ) {
        #if _endian(little)
        write(UInt32(values.count))
        bytes.append(contentsOf: UnsafeRawBufferPointer(values))
        #else
        write(values, writeElement)
        #endif
    }
}

/// Why a snapshot could not be restored.
public struct SnapshotError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var offset: Int
    public var description: String { "invalid engine snapshot: \(reason) (at byte \(offset))" }
}

/// Bounds-checked reading of what ``BinaryWriter`` wrote; corrupt input throws, never traps.
struct BinaryReader {
    let bytes: [UInt8]
    private(set) var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { position == bytes.count }

    func failure(_ reason: String) -> SnapshotError { SnapshotError(reason: reason, offset: position) }

    mutating func read<Integer: FixedWidthInteger>(_ type: Integer.Type = Integer.self) throws(SnapshotError) -> Integer {
        let size = MemoryLayout<Integer>.size
        guard position + size <= bytes.count else { throw failure("truncated") }
        var value = Integer.zero
        for offset in 0..<size { value |= Integer(truncatingIfNeeded: bytes[position + offset]) << (8 * offset) }
        position += size
        return value
    }
    mutating func readFloat() throws(SnapshotError) -> Float { Float(bitPattern: try read(UInt32.self)) }
    mutating func readDouble() throws(SnapshotError) -> Double { Double(bitPattern: try read(UInt64.self)) }
    mutating func readBool() throws(SnapshotError) -> Bool {
        switch try read(UInt8.self) {
        case 0: return false
        case 1: return true
        default: throw failure("invalid boolean")
        }
    }
    /// A count of elements that each take at least `minimumElementBytes`; checked against what is left.
    mutating func readCount(minimumElementBytes: Int = 1) throws(SnapshotError) -> Int {
        let count = Int(try read(UInt32.self))
        guard count * max(minimumElementBytes, 0) <= bytes.count - position else { throw failure("count too large") }
        return count
    }
    mutating func readRaw() throws(SnapshotError) -> [UInt8] {
        let count = try readCount()
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }
    mutating func readString() throws(SnapshotError) -> String {
        let raw = try readRaw()
        guard let string = String(validating: raw, as: UTF8.self) else { throw failure("invalid UTF-8") }
        return string
    }
    mutating func readOptionalString() throws(SnapshotError) -> String? {
        try readBool() ? try readString() : nil
    }
    mutating func readOptionalInt64() throws(SnapshotError) -> Int64? {
        try readBool() ? try read(Int64.self) : nil
    }
    mutating func readArray<Element>(minimumElementBytes: Int, _ readElement: (inout BinaryReader) throws(SnapshotError) -> Element)
        throws(SnapshotError) -> [Element]
    {
        let count = try readCount(minimumElementBytes: minimumElementBytes)
        var values: [Element] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try readElement(&self)) }
        return values
    }
    mutating func readFloats() throws(SnapshotError) -> [Float] {
        try readArray(minimumElementBytes: 4) { (reader: inout BinaryReader) throws(SnapshotError) in try reader.readFloat() }
    }
    /// Slots that must each be in 0..<limit.
    mutating func readSlots(limit: Int) throws(SnapshotError) -> [Int32] {
        try readArray(minimumElementBytes: 4) { (reader: inout BinaryReader) throws(SnapshotError) in try reader.readSlot(limit: limit) }
    }
    mutating func readSlot(limit: Int) throws(SnapshotError) -> Int32 {
        let slot = try read(Int32.self)
        guard slot >= 0, Int(slot) < limit else { throw failure("reference \(slot) out of range 0..<\(limit)") }
        return slot
    }
    mutating func readUInt32s() throws(SnapshotError) -> [UInt32] {
        try readArray(minimumElementBytes: 4) { (reader: inout BinaryReader) throws(SnapshotError) in try reader.read(UInt32.self) }
    }
}
