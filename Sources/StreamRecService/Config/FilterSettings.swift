import StreamRecEngine

/// The filters' settings by name: `recommendations.<name>` in the configuration, `<name>` in the query of
/// `GET /v1/users/{id}/recommendations`. One parser, so both read a value the same way.
enum FilterSettings {
    /// Each setting with what it takes, for error messages.
    static let allowed: [(name: String, allowed: String)] = [
        ("exclude_purchased", "true or false"),
        ("exclude_seen", "true or false"),
        ("include_categories", "category ids separated by commas (or a YAML list)"),
        ("exclude_categories", "category ids separated by commas (or a YAML list)"),
        ("deny_items", "item ids separated by commas (or a YAML list)"),
        ("diversity", "a number from 0 to 1"),
    ]

    /// A value that does not parse: the setting's name and what it takes.
    struct Invalid: Error {
        let name: String
        let allowed: String
    }

    /// How every true-or-false setting reads: `true` or `false`, in any case.
    static func flag(_ text: String) -> Bool? { ["true": true, "false": false][text.lowercased()] }

    /// `filters` with each setting that `value(name)` gives replaced.
    static func apply(to filters: RecommendationFilters, value: (String) -> String?) throws(Invalid) -> RecommendationFilters {
        var filters = filters
        func read<Value>(_ name: String, _ parse: (String) -> Value?) throws(Invalid) -> Value? {
            guard let text = value(name) else { return nil }
            guard let parsed = parse(text.trimmingCharacters(in: .whitespaces)) else {
                throw Invalid(name: name, allowed: allowed.first { $0.name == name }?.allowed ?? "a valid value")
            }
            return parsed
        }
        func ids(_ text: String) -> Set<String>? {
            let values = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            return values.contains(where: \.isEmpty) ? nil : Set(values)
        }
        if let value = try read("exclude_purchased", flag(_:)) { filters.excludePurchased = value }
        if let value = try read("exclude_seen", flag(_:)) { filters.excludeSeen = value }
        if let value = try read("include_categories", ids) { filters.includeCategories = value }
        if let value = try read("exclude_categories", ids) { filters.excludeCategories = value }
        if let value = try read("deny_items", ids) { filters.denyItems = value }
        if let value = try read("diversity", { Double($0).flatMap { (0...1).contains($0) ? $0 : nil } }) {
            filters.diversity = value
        }
        return filters
    }
}
