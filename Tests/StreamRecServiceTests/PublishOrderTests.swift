import StreamRecEngine
import Testing
@testable import StreamRecService

/// `PipelineRun.recommendationMessages`, which recommends and encodes a chunk of owed refreshes on all cores:
/// whatever the chunk size and core count, every message is handed out exactly once, in order, with the bytes
/// of recommending and encoding the users one by one.
@Suite struct PublishOrderTests {
    static let engine: RecommendationEngine = {
        var generator = SessionGenerator(seed: 5, users: 150, itemsPerCategory: 20, startMilliseconds: 1_700_000_000_000)
        var engine = RecommendationEngine()
        for event in generator.catalogueEvents() + (0..<1_500).map({ _ in generator.next() }) {
            engine.apply(try! EventDecoder.decode(event.jsonBytes()))
        }
        return engine
    }()

    static func messages(_ count: Int) -> [RecommendationMessage] {
        // Users 1…150 exist; the rest have no history (popular items only).
        (0..<count).map { index in
            RecommendationMessage(
                userID: "user-\(index * 7 % 170 + 1)", recommendations: [], eventTime: Int64(index), generatedAt: 9,
                source: .init(topic: "events", partition: Int32(index % 3), offset: Int64(index)))
        }
    }

    @Test(arguments: [(0, 2), (1, 2), (63, 2), (64, 2), (65, 2), (300, 1), (300, 2), (1_100, 2), (1_100, 5)])
    func handsOutEveryMessageOnceInOrder(count: Int, cores: Int) async throws {
        let messages = Self.messages(count)
        var encoder = RecommendationMessageEncoder()
        let oneByOne = messages.map { message in
            encoder.encode(message, items: Self.engine.recommend(userID: message.userID, k: 10, filters: .none))
        }
        var delivered: [[UInt8]] = []
        var firsts: [Int] = []
        try await PipelineRun.recommendationMessages(
            for: messages, engine: Self.engine, k: 10, filters: .none, cores: cores
        ) { first, encoded in
            firsts.append(first)
            #expect(first == delivered.count, "a block starts where the one before ended")
            #expect(!encoded.isEmpty)
            delivered += encoded
        }
        #expect(delivered == oneByOne)
        if count >= 2 * PipelineRun.minimumUsersPerBlock && cores > 1 {
            #expect(firsts.count > 1, "a large chunk is handed out in blocks, not all at the end")
        }
    }
}
