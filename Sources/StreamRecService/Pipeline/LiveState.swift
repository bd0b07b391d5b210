import StreamRecEngine
import Synchronization

/// The state the pipeline mutates and the HTTP server reads: the engine behind a lock (the pipeline holds
/// it once per event, a request for one recommendation) and the readiness flag.
public final class LiveState: Sendable {
    private let engine: Mutex<RecommendationEngine>
    private let ready = Atomic<Bool>(false)
    /// The filters used for published recommendations, so `GET /v1/users/{id}/recommendations` answers
    /// what the output topic carries.
    public let filters: RecommendationFilters

    public init(engine: RecommendationEngine, filters: RecommendationFilters = RecommendationFilters()) {
        self.engine = Mutex(engine)
        self.filters = filters
    }

    /// The user's top `k` now.
    public func recommend(userID: String, k: Int, filters: RecommendationFilters) -> [Recommendation] {
        engine.withLock { $0.recommend(userID: userID, k: k, filters: filters) }
    }

    func withEngine<Result>(_ body: (inout RecommendationEngine) -> Result) -> Result {
        engine.withLock { body(&$0) }
    }

    func replaceEngine(_ newEngine: RecommendationEngine) {
        engine.withLock { $0 = newEngine }
    }

    /// True while the pipeline is assigned partitions and the broker answers.
    public var isReady: Bool { ready.load(ordering: .relaxed) }
    func setReady(_ value: Bool) { ready.store(value, ordering: .relaxed) }
}
