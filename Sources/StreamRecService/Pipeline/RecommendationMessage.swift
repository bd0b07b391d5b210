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

    /// JSON with keys in a stable order, so equal messages are equal bytes.
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and numbers cannot fail.
        return Array(try! encoder.encode(self))
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
