extension EngineConfiguration {
    /// This configuration with the settings that only shape a recommendation taken from `other`: the blend,
    /// the session-neighbour settings, how many co-occurrence seeds and neighbours are read, and the semantic
    /// source's probes, scan limit and candidates. The rest (capacities, decays, what apply counts and how,
    /// vectors) shaped the state, so a live engine keeps it.
    public func withRecommendSettings(of other: EngineConfiguration) -> EngineConfiguration {
        var result = self
        result.blend = other.blend
        result.sessionNeighbours = other.sessionNeighbours
        result.coOccurrence.neighboursPerItem = other.coOccurrence.neighboursPerItem
        result.coOccurrence.seedItems = other.coOccurrence.seedItems
        result.semantic.probes = other.semantic.probes
        result.semantic.maxScannedItems = other.semantic.maxScannedItems
        result.semantic.candidates = other.semantic.candidates
        return result
    }
}

extension RecommendationEngine {
    /// Takes `wanted`'s recommend-time settings (``EngineConfiguration/withRecommendSettings(of:)``); from the
    /// next recommendation on, results follow them. The settings that shaped the state stay.
    /// - Returns: the sections (`capacity`, `decay`, `coOccurrence`, `semantic`, `behaviourWeights`) where
    ///   `wanted` differs in a setting that was kept, empty when it was all taken.
    @discardableResult
    public mutating func adoptRecommendSettings(of wanted: EngineConfiguration) -> [String] {
        let wanted = wanted.clamped()
        configuration = configuration.withRecommendSettings(of: wanted)
        var kept: [String] = []
        if configuration.capacity != wanted.capacity { kept.append("capacity") }
        if configuration.decay != wanted.decay { kept.append("decay") }
        if configuration.coOccurrence != wanted.coOccurrence { kept.append("coOccurrence") }
        if configuration.semantic != wanted.semantic { kept.append("semantic") }
        if configuration.behaviourWeights != wanted.behaviourWeights { kept.append("behaviourWeights") }
        return kept
    }
}
