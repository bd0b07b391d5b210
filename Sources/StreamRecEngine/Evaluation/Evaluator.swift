/// Offline evaluation by the "prequential next-item" protocol of the shared data README: replay the training
/// events, then the test events in order; before feeding a test `click` whose session (user, session) already
/// had a behaviour event, ask for the user's top-K with nothing excluded and score the clicked item.
public struct EvaluationReport: Sendable, Equatable, Codable {
    public var algorithm: String
    public var k: Int
    /// Fraction of scored clicks whose item was in the top K.
    public var hitRate: Double
    /// Mean reciprocal rank (0 when absent).
    public var mrr: Double
    /// Mean NDCG with one relevant item: 1 / log2(rank + 1).
    public var ndcg: Double
    /// Distinct recommended items / distinct items in the replayed events.
    public var coverage: Double
    /// Number of scored clicks.
    public var scored: Int
    /// Events applied (train + test).
    public var events: Int
    /// Events applied per second (apply time only).
    public var eventsPerSecond: Double
    public var recommendP50Milliseconds: Double
    public var recommendP99Milliseconds: Double

    enum CodingKeys: String, CodingKey {
        case algorithm, k
        case hitRate = "hit_rate"
        case mrr, ndcg, coverage, scored, events
        case eventsPerSecond = "events_per_second"
        case recommendP50Milliseconds = "recommend_p50_ms"
        case recommendP99Milliseconds = "recommend_p99_ms"
    }
}

public enum Evaluator {
    /// Runs the protocol on a fresh engine.
    /// - Parameters:
    ///   - progress: called now and then with (events done, events total).
    /// - Complexity: O(events · apply + scored clicks · recommend).
    public static func run(
        train: [Event], test: [Event], k: Int, algorithm: EngineConfiguration.Algorithm,
        configuration: EngineConfiguration = EngineConfiguration(), textEncoder: (any TextEncoder)? = nil,
        progress: ((Int, Int) -> Void)? = nil
    ) -> EvaluationReport {
        var engine = RecommendationEngine(configuration: configuration.restricted(to: algorithm), textEncoder: textEncoder)
        var metrics = RankingMetrics(k: k)
        var sessionsWithBehaviour = Set<SessionKey>()
        var catalogue = Set<String>()
        var applyTime = Duration.zero
        var latencies: [Duration] = []
        let clock = ContinuousClock()
        let total = train.count + test.count
        var done = 0

        for (isTest, events) in [(false, train), (true, test)] {
            for event in events {
                if let itemID = event.itemID { catalogue.insert(itemID) }
                let key = event.userID.map { SessionKey(user: $0, session: event.effectiveSessionID ?? $0) }
                if isTest, event.type == .click, let key, let itemID = event.itemID, sessionsWithBehaviour.contains(key) {
                    var list: [Recommendation] = []
                    let elapsed = clock.measure {
                        list = engine.recommend(userID: key.user, sessionID: key.session, k: k, filters: .none)
                    }
                    latencies.append(elapsed)
                    metrics.record(list.map(\.itemID), relevant: itemID)
                }
                applyTime += clock.measure { engine.apply(event) }
                if event.type.isBehaviour, let key { sessionsWithBehaviour.insert(key) }
                done += 1
                if done % 2048 == 0 { progress?(done, total) }
            }
        }
        progress?(done, total)
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let index = min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)
            return latencies[max(0, index)].milliseconds
        }
        let seconds = applyTime.milliseconds / 1000
        return EvaluationReport(
            algorithm: algorithm.rawValue, k: k, hitRate: metrics.hitRate, mrr: metrics.mrr, ndcg: metrics.ndcg,
            coverage: catalogue.isEmpty ? 0 : Double(metrics.recommendedItems.count) / Double(catalogue.count),
            scored: metrics.count, events: total, eventsPerSecond: seconds > 0 ? Double(total) / seconds : 0,
            recommendP50Milliseconds: percentile(0.50), recommendP99Milliseconds: percentile(0.99))
    }
}

struct SessionKey: Hashable {
    var user: String
    var session: String
}

/// HR@K, MRR@K and NDCG@K over lists scored one at a time.
struct RankingMetrics {
    let k: Int
    private(set) var count = 0
    private var hits = 0.0
    private var reciprocalRanks = 0.0
    private var gains = 0.0
    private(set) var recommendedItems = Set<String>()

    init(k: Int) { self.k = k }

    mutating func record(_ list: [String], relevant: String) {
        count += 1
        let top = list.prefix(k)
        recommendedItems.formUnion(top)
        guard let index = top.firstIndex(of: relevant) else { return }
        let rank = Double(index + 1)
        hits += 1
        reciprocalRanks += 1 / rank
        gains += 1 / log2(rank + 1)
    }

    var hitRate: Double { count > 0 ? hits / Double(count) : 0 }
    var mrr: Double { count > 0 ? reciprocalRanks / Double(count) : 0 }
    var ndcg: Double { count > 0 ? gains / Double(count) : 0 }
}

/// log2 without Foundation, exact enough for metrics (powers of two exact).
func log2(_ x: Double) -> Double {
    guard x > 0 else { return -.infinity }
    let exponent = Double(x.exponent)
    let mantissa = x.significand  // in [1, 2)
    // ln(m) by atanh series: ln(m) = 2 atanh((m-1)/(m+1)).
    let t = (mantissa - 1) / (mantissa + 1)
    var term = t
    var sum = 0.0
    var n = 1.0
    while n < 40 {
        sum += term / n
        term *= t * t
        n += 2
    }
    return exponent + 2 * sum / 0.693_147_180_559_945_3
}

extension Duration {
    var milliseconds: Double {
        let parts = components
        return Double(parts.seconds) * 1000 + Double(parts.attoseconds) / 1e15
    }
}
