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

    /// Writes the JSON with sorted keys into `buffer`; returns the bytes written, nil when they do not fit.
    /// By hand: `JSONEncoder` took about half of the service's CPU time.
    func write(items: [some MessageItem], into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int? {
        var json = JSONWriter(buffer)
        json.raw("{\"event_time\":")
        json.integer(eventTime)
        json.raw(",\"generated_at\":")
        json.integer(generatedAt)
        json.raw(",\"items\":[")
        // Separators joined to the next token: each raw write is a copy call.
        // Read in place through buffer pointers: iterating the arrays copied every item and reason, a retain
        // and a release of each of their strings and reason arrays.
        items.withUnsafeBufferPointer { items in
            for index in items.indices {
                json.raw(index == 0 ? "{\"item_id\":" : ",{\"item_id\":")
                json.string(items[index].itemID)
                json.raw(",\"reasons\":[")
                items[index].reasons.withUnsafeBufferPointer { reasons in
                    for index in reasons.indices {
                        let isFirst = index == 0
                        if reasons[index].itemID != nil {
                            json.raw(isFirst ? "{\"item_id\":" : ",{\"item_id\":")
                            json.string(reasons[index].itemID.unsafelyUnwrapped)
                            json.raw(",\"kind\":")
                        } else {
                            json.raw(isFirst ? "{\"kind\":" : ",{\"kind\":")
                        }
                        json.string(reasons[index].kind)
                        if reasons[index].query != nil {
                            json.raw(",\"query\":")
                            json.string(reasons[index].query.unsafelyUnwrapped)
                        }
                        json.raw("}")
                    }
                }
                json.raw("],\"score\":")
                json.number(items[index].score)
                json.raw("}")
            }
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
        return json.overflowed ? nil : json.count
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

/// Encodes messages one after another into one scratch buffer, then copies each message's bytes out. Not
/// sized per message: sizing exactly read every string twice, and even an upper bound from the strings'
/// lengths cost a third of writing. A message that does not fit doubles the buffer and is written again.
struct RecommendationMessageEncoder {
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)

    mutating func encode(_ message: RecommendationMessage, items: [some MessageItem]) -> [UInt8] {
        while true {
            if let count = scratch.withUnsafeMutableBufferPointer({ message.write(items: items, into: $0) }) {
                return Array(scratch[..<count])
            }
            scratch = [UInt8](repeating: 0, count: 2 * scratch.count)
        }
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

/// Writes JSON tokens as UTF-8 into a buffer (strings escaped per RFC 8259 the way `JSONEncoder` does, `/`
/// left alone); once a token does not fit, writes nothing more and reports `overflowed`. A `TextOutputStream`
/// so that `Double` writes its digits straight into it.
struct JSONWriter: TextOutputStream {
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private(set) var count = 0
    /// A token did not fit: what was written is incomplete.
    private(set) var overflowed = false

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.buffer = buffer
    }

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
        guard !overflowed, bytes.count <= buffer.count - count else {
            overflowed = true
            return
        }
        // Pointers, not a rebased slice: the slice's checks and generic copy cost more than the few bytes.
        guard let source = bytes.baseAddress, let base = buffer.baseAddress else { return }
        (base + count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }

    private mutating func append(_ byte: UInt8) {
        guard !overflowed, count < buffer.count else {
            overflowed = true
            return
        }
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
