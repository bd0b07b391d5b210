import Foundation
import StreamRecEngine

/// The value published to the output topic (key: the user id), documented in `docs/events.md`.
/// Times are milliseconds since the epoch, like the input `timestamp`.
public struct RecommendationMessage: Sendable, Equatable, Codable {
    public struct Item: Sendable, Equatable, Codable {
        public var itemID: String
        public var score: Double
        public var reasons: [Reason]

        enum CodingKeys: String, CodingKey {
            case itemID = "item_id"
            case score, reasons
        }
    }

    /// The input record whose event made this the user's latest state.
    public struct Source: Sendable, Equatable, Codable {
        public var topic: String
        public var partition: Int32
        public var offset: Int64
    }

    public var userID: String
    public var items: [Item]
    /// Event time of the user's latest event.
    public var eventTime: Int64
    /// Wall-clock time the recommendation was computed.
    public var generatedAt: Int64
    public var modelVersion: String
    public var source: Source

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case items
        case eventTime = "event_time"
        case generatedAt = "generated_at"
        case modelVersion = "model_version"
        case source
    }

    public init(
        userID: String, recommendations: [Recommendation], eventTime: Int64, generatedAt: Int64, source: Source
    ) {
        self.userID = userID
        self.items = recommendations.map { Item(itemID: $0.itemID, score: $0.score, reasons: $0.reasons) }
        self.eventTime = eventTime
        self.generatedAt = generatedAt
        self.modelVersion = StreamRecService.modelVersion
        self.source = source
    }

    /// JSON with sorted keys, so equal messages are equal bytes; absent reason fields are left out.
    public func encoded() -> [UInt8] { encoded(items: items) }

    /// This message with `items` in place of its own (the pipeline encodes the engine's recommendations
    /// without building ``Item``s first).
    func encoded(items: [some MessageItem]) -> [UInt8] {
        var encoder = RecommendationMessageEncoder()
        return encoder.encode(self, items: items)
    }

    /// Most bytes the JSON of this message with `items` can take: every string byte counted as escaped
    /// (`\u00XX`). Cheap: a native string knows its UTF-8 length, so no string is read.
    func maximumEncodedBytes(items: [some MessageItem]) -> Int {
        var bytes = JSONWriter.envelopeBytes + JSONWriter.maximumByteCount(of: modelVersion)
            + JSONWriter.maximumByteCount(of: source.topic) + JSONWriter.maximumByteCount(of: userID)
        for item in items {
            bytes += JSONWriter.itemBytes + JSONWriter.maximumByteCount(of: item.itemID)
            for reason in item.reasons {
                bytes += JSONWriter.reasonBytes + JSONWriter.maximumByteCount(of: reason.kind)
                if let itemID = reason.itemID { bytes += JSONWriter.maximumByteCount(of: itemID) }
                if let query = reason.query { bytes += JSONWriter.maximumByteCount(of: query) }
            }
        }
        return bytes
    }

    /// Writes the JSON with sorted keys into `buffer`, which holds at least ``maximumEncodedBytes(items:)``;
    /// returns the bytes written. By hand: `JSONEncoder` took about half of the service's CPU time.
    func write(items: [some MessageItem], into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var json = JSONWriter(buffer)
        json.raw("{\"event_time\":")
        json.integer(eventTime)
        json.raw(",\"generated_at\":")
        json.integer(generatedAt)
        json.raw(",\"items\":[")
        // Separators joined to the next token: each raw write is a copy call.
        var isFirstItem = true
        for item in items {
            json.raw(isFirstItem ? "{\"item_id\":" : ",{\"item_id\":")
            isFirstItem = false
            json.string(item.itemID)
            json.raw(",\"reasons\":[")
            var isFirstReason = true
            for reason in item.reasons {
                if let itemID = reason.itemID {
                    json.raw(isFirstReason ? "{\"item_id\":" : ",{\"item_id\":")
                    json.string(itemID)
                    json.raw(",\"kind\":")
                } else {
                    json.raw(isFirstReason ? "{\"kind\":" : ",{\"kind\":")
                }
                isFirstReason = false
                json.string(reason.kind)
                if let query = reason.query {
                    json.raw(",\"query\":")
                    json.string(query)
                }
                json.raw("}")
            }
            json.raw("],\"score\":")
            json.number(item.score)
            json.raw("}")
        }
        json.raw("],\"model_version\":")
        json.string(modelVersion)
        json.raw(",\"source\":{\"offset\":")
        json.integer(source.offset)
        json.raw(",\"partition\":")
        json.integer(Int64(source.partition))
        json.raw(",\"topic\":")
        json.string(source.topic)
        json.raw("},\"user_id\":")
        json.string(userID)
        json.raw("}")
        return json.count
    }

    public init(decoding bytes: [UInt8]) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(bytes))
    }
}

extension Reason {
    /// For people: `co_click sku-1`, `query "trail shoes"`, `popular`.
    public var summary: String {
        if let itemID { return "\(kind) \(itemID)" }
        if let query { return "\(kind) \"\(query)\"" }
        return kind
    }
}

/// Encodes messages one after another through one scratch buffer sized by an upper bound, then copies each
/// message's bytes out: sizing each message exactly first read every string twice (≈ 40 % of encoding's
/// own time in `serve`).
struct RecommendationMessageEncoder {
    private var scratch: [UInt8] = []

    mutating func encode(_ message: RecommendationMessage, items: [some MessageItem]) -> [UInt8] {
        let bound = message.maximumEncodedBytes(items: items)
        if scratch.count < bound { scratch = [UInt8](repeating: 0, count: max(bound, 2 * scratch.count)) }
        let count = scratch.withUnsafeMutableBufferPointer { message.write(items: items, into: $0) }
        return Array(scratch[..<count])
    }
}

/// What a message's `items` entry is written from: its own ``RecommendationMessage/Item`` or the engine's
/// ``Recommendation`` (the same fields).
protocol MessageItem {
    var itemID: String { get }
    var score: Double { get }
    var reasons: [Reason] { get }
}

extension RecommendationMessage.Item: MessageItem {}
extension Recommendation: MessageItem {}

/// Writes JSON tokens as UTF-8 into a buffer the caller sized with the byte counts below (strings escaped
/// per RFC 8259 the way `JSONEncoder` does, `/` left alone). A `TextOutputStream` so that `Double` writes its digits straight into it.
struct JSONWriter: TextOutputStream {
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private(set) var count = 0

    /// Most bytes a message needs besides its strings: keys and punctuation (113 bytes), three `Int64`s and
    /// an `Int32` (71 at most), with room to spare.
    static let envelopeBytes = 256
    /// Per item besides its strings: 35 bytes of keys and punctuation and a number (at most 24 characters).
    static let itemBytes = 80
    /// Per reason besides its strings: 30 bytes of keys and punctuation.
    static let reasonBytes = 40

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.buffer = buffer
    }

    /// Most bytes `value` can take as a JSON string, quotes included: every byte escaped as `\u00XX`.
    static func maximumByteCount(of value: String) -> Int { 6 * value.utf8.count + 2 }

    /// Native strings are contiguous UTF-8: read through a pointer, not the `UTF8View`'s iterator.
    private static func withUTF8<Result>(of value: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        if let result = value.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(value.utf8).withUnsafeBufferPointer(body)
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { append($0) }
    }

    private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        precondition(bytes.count <= buffer.count - count, "JSONWriter: buffer sized too small")
        // Pointers, not a rebased slice: the slice's checks and generic copy cost more than the few bytes.
        guard let source = bytes.baseAddress, let base = buffer.baseAddress else { return }
        (base + count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }

    private mutating func append(_ byte: UInt8) {
        precondition(count < buffer.count, "JSONWriter: buffer sized too small")
        buffer[count] = byte
        count += 1
    }

    mutating func integer(_ value: Int64) {
        // Digits backwards into scratch space, then forwards into the buffer.
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 { append(UInt8(ascii: "-")) }
            append(UnsafeBufferPointer(rebasing: digits[start..<20]))
        }
    }

    /// The shortest text that reads back as `value` (`Double.description`; integral values without `.0`,
    /// like `JSONEncoder`).
    mutating func number(_ value: Double) {
        // Blended scores are finite; JSON has no other kind of number.
        guard value.isFinite else { return raw("0") }
        let start = count
        value.write(to: &self)
        if count - start >= 2, buffer[count - 2] == UInt8(ascii: "."), buffer[count - 1] == UInt8(ascii: "0") {
            count -= 2
        }
    }

    mutating func string(_ value: String) {
        append(UInt8(ascii: "\""))
        Self.withUTF8(of: value) { bytes in
            // Runs without escapes are copied whole.
            var runStart = 0
            for index in bytes.indices where Self.needsEscape(bytes[index]) {
                append(UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                escape(bytes[index])
                runStart = index + 1
            }
            append(UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): raw("\\\"")
        case UInt8(ascii: "\\"): raw("\\\\")
        case 0x08: raw("\\b")
        case 0x09: raw("\\t")
        case 0x0A: raw("\\n")
        case 0x0C: raw("\\f")
        case 0x0D: raw("\\r")
        default:
            raw("\\u00")
            append(Self.hexDigits[Int(byte >> 4)])
            append(Self.hexDigits[Int(byte & 0xF)])
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `TextOutputStream`: what `Double.write(to:)` sends when the standard library does not call
    /// `_writeASCII` below.
    mutating func write(_ string: String) {
        for byte in string.utf8 { append(byte) }
    }

    /// The standard library's hook for ASCII text (`Double.write(to:)` passes its digits here from a stack
    /// buffer), which saves creating a `String` per score.
    mutating func _writeASCII(_ text: UnsafeBufferPointer<UInt8>) {
        append(text)
    }
}
