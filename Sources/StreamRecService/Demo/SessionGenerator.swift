import Foundation
import StreamRecEngine

/// One generated event in the input schema (`docs/events.md`); nil fields are omitted from the JSON.
public struct GeneratedEvent: Sendable, Equatable, Codable {
    public var eventID: String
    public var type: String
    public var userID: String?
    public var sessionID: String?
    public var itemID: String?
    public var query: String?
    public var title: String?
    public var category: String?
    public var timestamp: Int64

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id"
        case type
        case userID = "user_id"
        case sessionID = "session_id"
        case itemID = "item_id"
        case query, title, category, timestamp
    }

    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain strings and integers always encode.
        return Array(try! encoder.encode(self))
    }
}

/// Realistic shop sessions for `streamrec demo`: a catalogue of items in categories whose popularity
/// follows a Zipf law; users favour a category or two; a session starts with a search (sometimes a
/// misspelled one), clicks results of that category, views some, and occasionally carts and buys.
/// Deterministic: the same seed gives the same stream.
public struct SessionGenerator: Sendable {
    public struct CatalogueItem: Sendable, Equatable {
        public var itemID: String
        public var title: String
        public var category: String
    }

    struct Category: Sendable {
        var name: String
        var queries: [String]
        var nouns: [String]
    }

    static let categories: [Category] = [
        Category(name: "running", queries: ["trail running shoes", "running shoes", "marathon shoes", "running socks"],
                 nouns: ["Trail Shoe", "Road Shoe", "Running Sock", "Race Vest"]),
        Category(name: "coffee", queries: ["espresso beans", "coffee grinder", "french press", "decaf coffee"],
                 nouns: ["Espresso Beans", "Burr Grinder", "French Press", "Pour-over Kettle"]),
        Category(name: "audio", queries: ["wireless headphones", "noise cancelling headphones", "earbuds", "bluetooth speaker"],
                 nouns: ["Headphones", "Earbuds", "Speaker", "Headphone Amp"]),
        Category(name: "camping", queries: ["two person tent", "sleeping bag", "camping stove", "headlamp"],
                 nouns: ["Tent", "Sleeping Bag", "Camp Stove", "Headlamp"]),
        Category(name: "books", queries: ["science fiction novel", "cookbook", "kids books", "mystery novel"],
                 nouns: ["Novel", "Cookbook", "Picture Book", "Mystery"]),
        Category(name: "kitchen", queries: ["chef knife", "cast iron pan", "cutting board", "stand mixer"],
                 nouns: ["Chef Knife", "Cast Iron Pan", "Cutting Board", "Stand Mixer"]),
    ]
    static let adjectives = ["Classic", "Pro", "Ultra", "Eco", "Compact", "Deluxe", "Lite", "Summit"]

    public let catalogue: [CatalogueItem]
    /// Item indexes of each category, most popular first.
    private let itemsByCategory: [[Int]]
    /// Cumulative Zipf weights per category, for sampling by rank.
    private let cumulativeWeightsByCategory: [[Double]]
    private let userCount: Int
    private var random: SplitMix64
    private var clockMilliseconds: Int64
    private var sequence = 0
    private var sessions: [Int: SessionState] = [:]

    struct SessionState: Sendable {
        var sessionID: String
        var category: Int
        var query: String
        var remainingSteps: Int
    }

    /// - Parameters:
    ///   - seed: the stream is a function of the seed alone.
    ///   - users: how many distinct users act.
    ///   - itemsPerCategory: catalogue size per category.
    ///   - startMilliseconds: event time of the first event.
    public init(seed: UInt64, users: Int = 50, itemsPerCategory: Int = 40, startMilliseconds: Int64) {
        random = SplitMix64(seed: seed)
        userCount = users
        clockMilliseconds = startMilliseconds
        var catalogue: [CatalogueItem] = []
        var itemsByCategory: [[Int]] = []
        // Ids stay sku-0…, sku-1000…, … per category, and never run into the next category's.
        let idStride = max(1000, itemsPerCategory)
        for (categoryIndex, category) in Self.categories.enumerated() {
            var members: [Int] = []
            for rank in 0..<itemsPerCategory {
                let title = "\(Self.adjectives[rank % Self.adjectives.count]) \(category.nouns[rank % category.nouns.count]) \(rank / Self.adjectives.count + 1)"
                members.append(catalogue.count)
                catalogue.append(CatalogueItem(
                    itemID: "sku-\(categoryIndex * idStride + rank)", title: title, category: category.name))
            }
            itemsByCategory.append(members)
        }
        self.catalogue = catalogue
        self.itemsByCategory = itemsByCategory
        // Zipf with exponent 1: rank r is chosen with weight 1/r.
        let cumulative = (1...itemsPerCategory).reduce(into: [Double]()) { sums, rank in
            sums.append((sums.last ?? 0) + 1 / Double(rank))
        }
        cumulativeWeightsByCategory = Array(repeating: cumulative, count: Self.categories.count)
    }

    /// `item` events describing the catalogue, to send before the sessions.
    public mutating func catalogueEvents() -> [GeneratedEvent] {
        catalogue.map { item in
            sequence += 1
            return GeneratedEvent(
                eventID: "demo-\(sequence)", type: "item", itemID: item.itemID, title: item.title,
                category: item.category, timestamp: clockMilliseconds)
        }
    }

    /// The next event of some user's session.
    public mutating func next() -> GeneratedEvent {
        let user = Int(random.next(below: UInt64(userCount)))
        let userID = "user-\(user + 1)"
        clockMilliseconds += Int64(500 + random.next(below: 4000))
        sequence += 1
        let eventID = "demo-\(sequence)"

        guard var session = sessions[user], session.remainingSteps > 0 else {
            // A new session begins with a search in one of the user's two favourite categories.
            let favourite = (user * 7 + (random.next(below: 4) == 0 ? 1 : 0)) % Self.categories.count
            let category = Self.categories[favourite]
            var query = category.queries[Int(random.next(below: UInt64(category.queries.count)))]
            if random.next(below: 5) == 0 { query = Self.misspell(query, random: &random) }
            let sessionID = "\(userID)-s\(sequence)"
            sessions[user] = SessionState(
                sessionID: sessionID, category: favourite, query: query, remainingSteps: 2 + Int(random.next(below: 6)))
            return GeneratedEvent(
                eventID: eventID, type: "search", userID: userID, sessionID: sessionID, query: query,
                timestamp: clockMilliseconds)
        }
        session.remainingSteps -= 1
        sessions[user] = session
        let item = catalogue[pickItem(category: session.category)]
        let roll = random.next(below: 100)
        let type = roll < 55 ? "click" : roll < 85 ? "view" : roll < 95 ? "cart" : "purchase"
        return GeneratedEvent(
            eventID: eventID, type: type, userID: userID, sessionID: session.sessionID, itemID: item.itemID,
            query: type == "click" ? session.query : nil, timestamp: clockMilliseconds)
    }

    private mutating func pickItem(category: Int) -> Int {
        let weights = cumulativeWeightsByCategory[category]
        let target = random.nextUnit() * weights[weights.count - 1]
        let rank = weights.firstIndex { $0 >= target } ?? weights.count - 1
        return itemsByCategory[category][rank]
    }

    /// Swaps two neighbouring letters, as people do when typing fast.
    static func misspell(_ query: String, random: inout SplitMix64) -> String {
        var characters = Array(query)
        guard characters.count > 3 else { return query }
        let index = 1 + Int(random.next(below: UInt64(characters.count - 2)))
        characters.swapAt(index, index - 1)
        return String(characters)
    }
}

