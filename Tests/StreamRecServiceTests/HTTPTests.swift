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
}

