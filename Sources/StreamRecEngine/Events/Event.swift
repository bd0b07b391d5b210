/// What a user (or the catalogue) did.
public enum EventType: String, Sendable, CaseIterable, Codable, BitwiseCopyable {
    case search, click, view, cart, purchase, item

    /// Click, view, cart and purchase: events that touch an item on behalf of a user.
    public var isBehaviour: Bool {
        switch self {
        case .click, .view, .cart, .purchase: true
        case .search, .item: false
        }
    }
}

/// One input event, as decoded from its JSON form (see docs/events.md).
public struct Event: Sendable, Equatable {
    /// Optional producer-assigned id; the service uses it to drop duplicates.
    public var eventID: String?
    public var type: EventType
    /// Required for every type except `item`.
    public var userID: String?
    /// Absent means "the user is the session".
    public var sessionID: String?
    /// Required for behaviour events and `item`.
    public var itemID: String?
    /// The search text (`search`), or the search that led to a behaviour event.
    public var query: String?
    public var title: String?
    public var category: String?
    public var tags: [String]
    /// `item` events: false takes the item out of every recommendation (sold out, withdrawn) while its history
    /// stays; true puts it back; absent (nil) leaves it as it was.
    public var available: Bool?
    /// Event time in milliseconds since the Unix epoch; the engine's only clock.
    public var timestampMilliseconds: Int64

    public init(
        eventID: String? = nil, type: EventType, userID: String? = nil, sessionID: String? = nil,
        itemID: String? = nil, query: String? = nil, title: String? = nil, category: String? = nil,
        tags: [String] = [], available: Bool? = nil, timestampMilliseconds: Int64
    ) {
        self.eventID = eventID
        self.type = type
        self.userID = userID
        self.sessionID = sessionID
        self.itemID = itemID
        self.query = query
        self.title = title
        self.category = category
        self.tags = tags
        self.available = available
        self.timestampMilliseconds = timestampMilliseconds
    }

    /// The session the event belongs to: its `session_id`, or the user when absent.
    public var effectiveSessionID: String? { sessionID ?? userID }
}

/// Why an event could not be decoded: the field (JSON key) at fault, if any, and the problem.
public struct EventDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The JSON key at fault; nil when the document itself is malformed.
    public var field: String?
    public var reason: String
    /// Byte offset where the problem was noticed.
    public var offset: Int

    public init(field: String?, reason: String, offset: Int) {
        self.field = field
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        if let field { return "field '\(field)': \(reason) (at byte \(offset))" }
        return "\(reason) (at byte \(offset))"
    }
}
