import Testing
@testable import StreamRecEngine

/// A restored engine takes the recommend-time settings of a new configuration and keeps those that shaped its state.
@Suite struct RecommendSettingsTests {
    static let events = Make.syntheticStream(count: 3000)

    @Test func adoptedRecommendSettingsGiveWhatAnEngineBuiltWithThemGives() throws {
        var tuned = EngineConfiguration()
        tuned.blend.sessionNeighbours = 0
        tuned.blend.popular = 1
        tuned.semantic.candidates = 10
        tuned.coOccurrence.seedItems = 2
        var builtWithTuned = RecommendationEngine(configuration: tuned)
        builtWithTuned.apply(Self.events)

        var original = RecommendationEngine()
        original.apply(Self.events)
        var restored = try RecommendationEngine(snapshot: original.snapshot())
        let users = (0..<40).map { "u\($0)" }
        #expect(users.map { restored.ids(for: $0) } != users.map { builtWithTuned.ids(for: $0) })

        #expect(restored.adoptRecommendSettings(of: tuned).isEmpty)
        #expect(restored.configuration == builtWithTuned.configuration)
        #expect(users.map { restored.ids(for: $0) } == users.map { builtWithTuned.ids(for: $0) })
        // The next snapshot carries them.
        #expect(try RecommendationEngine(snapshot: restored.snapshot()).configuration == tuned)
    }

    @Test func settingsThatShapedTheStateAreKeptAndNamed() throws {
        var original = RecommendationEngine()
        original.apply(Self.events)
        var wanted = EngineConfiguration()
        wanted.capacity.maxUsers = 10
        wanted.decay.interestHalfLifeSeconds = 60
        wanted.coOccurrence.window = 7
        wanted.blend.query = 2
        var restored = try RecommendationEngine(snapshot: original.snapshot())
        #expect(restored.adoptRecommendSettings(of: wanted) == ["capacity", "decay", "coOccurrence"])
        #expect(restored.configuration.capacity == EngineConfiguration().capacity)
        #expect(restored.configuration.coOccurrence.window == EngineConfiguration().coOccurrence.window)
        #expect(restored.configuration.blend.query == 2)
        #expect(restored.userCount == original.userCount)
    }
}
