import Foundation
import Hummingbird
import Logging
import StreamRecEngine

/// `GET /healthz`, `/readyz`, `/metrics`, `/v1/users/{id}/recommendations?k=20` (with optional filters: ``filters(from:overriding:)``).
public enum HTTPServer {
    /// The body of `GET /v1/users/{id}/recommendations`: the published message's items for the user now.
    public struct RecommendationsResponse: ResponseCodable, Equatable {
        public var userID: String
        public var items: [RecommendationMessage.Item]
        public var modelVersion: String

        enum CodingKeys: String, CodingKey {
            case userID = "user_id"
            case items
            case modelVersion = "model_version"
        }
    }

    public static func buildRouter(
        state: LiveState, metrics: ServiceMetrics, defaultK: Int
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            state.isReady
                ? Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ready\n")))
                : Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "not ready\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        router.get("/v1/users/:id/recommendations") { request, context -> RecommendationsResponse in
            let userID = try context.parameters.require("id")
            let k: Int
            if let text = request.uri.queryParameters.get("k") {
                guard let value = Int(text), (1...1000).contains(value) else {
                    throw HTTPError(.badRequest, message: "k must be an integer from 1 to 1000")
                }
                k = value
            } else {
                k = defaultK
            }
            let filters = try Self.filters(from: request.uri.queryParameters, overriding: state.filters)
            let items = state.recommend(userID: userID, k: k, filters: filters).map {
                RecommendationMessage.Item(itemID: $0.itemID, score: $0.score, reasons: $0.reasons)
            }
            return RecommendationsResponse(userID: userID, items: items, modelVersion: modelVersion)
        }
        return router
    }

    /// A request's filters: the published recommendations' (`recommendations.*`), with each one the query names
    /// replaced (``FilterSettings``: `exclude_purchased`, `exclude_seen`, `include_categories`, `exclude_categories`,
    /// `deny_items`, `diversity`).
    /// - Throws: 400 naming the parameter and what it takes.
    static func filters(from query: Parameters, overriding base: RecommendationFilters) throws -> RecommendationFilters {
        do {
            return try FilterSettings.apply(to: base) { query.get($0) }
        } catch {
            throw HTTPError(.badRequest, message: "\(error.name) must be \(error.allowed)")
        }
    }

    /// The HTTP application as a `Service`; `onServerRunning` reports the bound port (useful with port 0).
    public static func buildApplication(
        configuration: ServiceConfiguration.HTTP, state: LiveState, metrics: ServiceMetrics, defaultK: Int,
        logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: buildRouter(state: state, metrics: metrics, defaultK: defaultK),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "streamrec"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}
