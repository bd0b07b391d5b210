@testable import StreamRecEngine

/// Event builders for hand-made streams; time in seconds from an arbitrary origin.
enum Make {
    static let origin: Int64 = 1_700_000_000_000

    static func click(_ user: String, _ item: String, at seconds: Double, type: EventType = .click,
                      session: String? = nil, query: String? = nil) -> Event {
        Event(type: type, userID: user, sessionID: session, itemID: item, query: query,
              timestampMilliseconds: origin + Int64(seconds * 1000))
    }

    static func search(_ user: String, _ query: String, at seconds: Double, session: String? = nil) -> Event {
        Event(type: .search, userID: user, sessionID: session, query: query,
              timestampMilliseconds: origin + Int64(seconds * 1000))
    }

    static func item(_ item: String, title: String? = nil, category: String? = nil, at seconds: Double = 0) -> Event {
        Event(type: .item, itemID: item, title: title, category: category,
              timestampMilliseconds: origin + Int64(seconds * 1000))
    }

    /// A seeded synthetic stream with every event type: users with sessions, Zipf-ish items, searches, metadata.
    static func syntheticStream(count: Int, seed: UInt64 = 7, users: Int = 200, items: Int = 300) -> [Event] {
        var random = SplitMix64(seed: seed)
        var events: [Event] = []
        let words = ["red", "blue", "shoe", "jacket", "trail", "running", "denim", "wool", "sock", "hat"]
        for index in 0..<count {
            let seconds = Double(index) * 7
            let user = "u\(random.next() % UInt64(users))"
            let session = "s\(index / 40)-\(user)"
            // Squaring a uniform draw skews towards small ids: a cheap popularity skew.
            let draw = Double(random.next() % 10_000) / 10_000
            let item = "i\(Int(draw * draw * Double(items)))"
            switch random.next() % 20 {
            case 0:
                let query = "\(words[Int(random.next() % 10)]) \(words[Int(random.next() % 10)])"
                events.append(search(user, query, at: seconds, session: session))
            case 1:
                events.append(Make.item(item, title: "\(words[Int(random.next() % 10)]) thing", category: "c\(random.next() % 5)", at: seconds))
            case 2: events.append(click(user, item, at: seconds, type: .purchase, session: session))
            case 3, 4: events.append(click(user, item, at: seconds, type: .cart, session: session))
            case 5...11: events.append(click(user, item, at: seconds, type: .view, session: session))
            default: events.append(click(user, item, at: seconds, session: session))
            }
        }
        return events
    }
}

extension RecommendationEngine {
    mutating func apply(_ events: [Event]) { for event in events { apply(event) } }

    func ids(for user: String, k: Int = 10, filters: RecommendationFilters = .none) -> [String] {
        recommend(userID: user, k: k, filters: filters).map(\.itemID)
    }
}

extension SessionStore {
    /// Items of each slot, in slot order (the snapshot writes them in place).
    var itemLists: [[Int32]] { (0..<slotCount).map { Array(items(inSlot: $0)) } }
}
