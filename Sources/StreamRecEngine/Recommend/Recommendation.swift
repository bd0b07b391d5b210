/// Which items a recommendation may not contain, and how diverse it should be.
public struct RecommendationFilters: Sendable, Equatable {
    /// Drop items the user purchased (within the remembered history). Default true.
    public var excludePurchased: Bool
    /// Drop every item the user touched (within the remembered history). Default false.
    public var excludeSeen: Bool
    /// When not empty, only items whose category is listed (items without a category are dropped).
    public var includeCategories: Set<String>
    /// Items whose category is listed are dropped.
    public var excludeCategories: Set<String>
    /// Item ids that must never be recommended.
    public var denyItems: Set<String>
    /// Maximal marginal relevance: 0 ranks by relevance only, 1 by novelty against the items already picked
    /// only (similarity = cosine of item vectors). Default 0.
    public var diversity: Double

    public init(
        excludePurchased: Bool = true, excludeSeen: Bool = false, includeCategories: Set<String> = [],
        excludeCategories: Set<String> = [], denyItems: Set<String> = [], diversity: Double = 0
    ) {
        self.excludePurchased = excludePurchased
        self.excludeSeen = excludeSeen
        self.includeCategories = includeCategories
        self.excludeCategories = excludeCategories
        self.denyItems = denyItems
        self.diversity = diversity
    }

    /// Nothing excluded, no diversity (the evaluation protocol).
    public static let none = RecommendationFilters(excludePurchased: false)
}

/// Why an item was recommended. JSON: `{"kind":"co_click","item_id":"sku-1"}`, `{"kind":"query","query":"trail
/// shoes"}`, `{"kind":"semantic"}`, `{"kind":"popular"}`, `{"kind":"recent"}`, `{"kind":"similar_sessions"}`.
public struct Reason: Sendable, Equatable, Hashable, Codable {
    /// One of the `Kind` constants.
    public var kind: String
    /// The user's item that led here (co-occurrence reasons).
    public var itemID: String?
    /// The user's search that led here (`query` reasons), normalised.
    public var query: String?

    public init(kind: String, itemID: String? = nil, query: String? = nil) {
        self.kind = kind
        self.itemID = itemID
        self.query = query
    }

    enum CodingKeys: String, CodingKey {
        case kind
        case itemID = "item_id"
        case query
    }

    /// Reason kinds. Co-occurrence kinds name the behaviour on the user's item: `co_click`, `co_view`,
    /// `co_cart`, `co_purchase`.
    public enum Kind {
        public static let recent = "recent"
        public static let similarSessions = "similar_sessions"
        public static let query = "query"
        public static let semantic = "semantic"
        public static let popular = "popular"
        public static func coOccurrence(_ type: EventType) -> String {
            // Literals, not "co_" + the raw value: recommend names one per co-occurrence reason.
            switch type {
            case .search: "co_search"
            case .click: "co_click"
            case .view: "co_view"
            case .cart: "co_cart"
            case .purchase: "co_purchase"
            case .item: "co_item"
            }
        }
    }
}

/// One recommended item: its id, blended score (higher is better) and reasons, strongest first.
public struct Recommendation: Sendable, Equatable {
    public var itemID: String
    public var score: Double
    public var reasons: [Reason]

    public init(itemID: String, score: Double, reasons: [Reason]) {
        self.itemID = itemID
        self.score = score
        self.reasons = reasons
    }
}
