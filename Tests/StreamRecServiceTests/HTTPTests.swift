import Foundation
import Hummingbird
import HummingbirdTesting
import StreamRecEngine
import Testing
@testable import StreamRecService

@Suite struct HTTPTests {
    @Test func healthReadinessAndMetricsEndpoints() async throws {
        let state = LiveState(engine: RecommendationEngine(configuration: EngineConfiguration()))
        let metrics = ServiceMetrics()
        let app = Application(router: HTTPServer.buildRouter(state: state, metrics: metrics, defaultK: 20))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .serviceUnavailable) }
            state.setReady(true)
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
            metrics.recommendationsPublished.increment()
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("streamrec_recommendations_published_total 1"))
                #expect(PrometheusText.parse(text) != nil)
            }
            try await client.execute(uri: "/v1/users/u1/recommendations?k=0", method: .get) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v1/users/u1/recommendations?k=x", method: .get) { #expect($0.status == .badRequest) }
        }
    }

    /// The endpoint answers with the published recommendations' filters unless the query names its own.
    @Test func requestFiltersReplaceTheConfiguredOnes() async throws {
        var engine = RecommendationEngine()
        var time: Int64 = 1_700_000_000_000
        func add(_ event: Event) {
            engine.apply(event)
            time += 1000
        }
        for index in 0..<6 {
            add(Event(type: .item, itemID: "i\(index)", category: index < 3 ? "shoes" : "hats", timestampMilliseconds: time))
        }
        // Others pair every item, so the user's items have neighbours of both categories.
        for other in 0..<5 {
            for index in 0..<6 { add(Event(type: .click, userID: "o\(other)", itemID: "i\(index)", timestampMilliseconds: time)) }
        }
        add(Event(type: .click, userID: "u1", itemID: "i0", timestampMilliseconds: time))
        add(Event(type: .purchase, userID: "u1", itemID: "i3", timestampMilliseconds: time))
        let state = LiveState(engine: engine, filters: RecommendationFilters(excludeSeen: true))
        let app = Application(router: HTTPServer.buildRouter(state: state, metrics: ServiceMetrics(), defaultK: 20))
        @Sendable func items(_ response: TestResponse) throws -> [String] {
            try JSONDecoder().decode(HTTPServer.RecommendationsResponse.self, from: Data(buffer: response.body)).items.map(\.itemID)
        }
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/users/u1/recommendations", method: .get) { response in
                let listed = try items(response)
                #expect(!listed.isEmpty)
                #expect(!listed.contains("i0") && !listed.contains("i3"), "configured: seen items left out")
            }
            try await client.execute(uri: "/v1/users/u1/recommendations?exclude_seen=false", method: .get) { response in
                let listed = try items(response)
                #expect(listed.contains("i0"))
                #expect(!listed.contains("i3"), "purchases stay out (exclude_purchased keeps its configured value)")
            }
            try await client.execute(uri: "/v1/users/u1/recommendations?include_categories=hats&deny_items=i4", method: .get) { response in
                let listed = try items(response)
                #expect(listed == ["i5"], "hats only, i3 seen, i4 denied")
            }
            for bad in ["exclude_seen=maybe", "diversity=2", "diversity=x"] {
                try await client.execute(uri: "/v1/users/u1/recommendations?\(bad)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                }
            }
        }
    }
}
