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
    ///
    /// Written by hand: `JSONEncoder` took about half of the service's CPU time (one message per user per
    /// batch), more than computing the recommendations.
    public func encoded() -> [UInt8] {
        var json = JSONBytes()
        json.buffer.reserveCapacity(256 + items.count * 96)
        json.raw("{\"event_time\":")
        json.integer(eventTime)
        json.raw(",\"generated_at\":")
        json.integer(generatedAt)
        json.raw(",\"items\":[")
        for (index, item) in items.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{\"item_id\":")
            json.string(item.itemID)
            json.raw(",\"reasons\":[")
            for (reasonIndex, reason) in item.reasons.enumerated() {
                if reasonIndex > 0 { json.raw(",") }
                json.raw("{")
                if let itemID = reason.itemID {
                    json.raw("\"item_id\":")
                    json.string(itemID)
                    json.raw(",")
                }
                json.raw("\"kind\":")
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
        json.integer(source.partition)
        json.raw(",\"topic\":")
        json.string(source.topic)
        json.raw("},\"user_id\":")
        json.string(userID)
        json.raw("}")
        return json.buffer
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

/// Appends JSON tokens as UTF-8 (strings escaped per RFC 8259, `/` left alone).
struct JSONBytes {
    var buffer: [UInt8] = []

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { buffer.append(contentsOf: $0) }
    }

    mutating func integer(_ value: some BinaryInteger) {
        buffer.append(contentsOf: String(value).utf8)
    }

    /// The shortest text that reads back as `value` (integral values without `.0`, like `JSONEncoder`).
    mutating func number(_ value: Double) {
        // Blended scores are finite; JSON has no other kind of number.
        guard value.isFinite else { return raw("0") }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        buffer.append(contentsOf: text.utf8)
    }

    mutating func string(_ value: String) {
        buffer.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                buffer.append(Self.hexDigits[Int(byte >> 4)])
                buffer.append(Self.hexDigits[Int(byte & 0xF)])
            default: buffer.append(byte)
            }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
