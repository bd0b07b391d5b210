import Foundation
import StreamRecEngine
import Yams

/// Builds a ``ServiceConfiguration`` from layered sources: defaults, then the YAML file, then
/// `STREAMREC_*` environment variables, then command-line flags. Keys are dotted paths of the YAML file
/// (`http.port`); the environment variable of a key is `STREAMREC_` + the key in capitals with `_` for
/// `.` (`STREAMREC_HTTP_PORT`). Unknown keys in the file are errors, so a typo never passes silently.
public struct ConfigurationSources: Sendable {
    /// Every key, with the value kind shown in errors.
    static let keys: [(key: String, allowed: String)] = [
        ("kafka.brokers", "host:port[,host:port...]"),
        ("kafka.input_topic", "a topic name"),
        ("kafka.output_topic", "a topic name"),
        ("kafka.dlq_topic", "a topic name"),
        ("kafka.group", "a consumer group id"),
        ("kafka.from", "committed, earliest or an RFC 3339 time such as 2024-11-25T16:00:00Z"),
        ("kafka.create_topics", "true or false"),
        ("pipeline.max_batch_events", "an integer from 1 to 1000000"),
        ("pipeline.max_backlog_batch_events", "an integer from 1 to 1000000"),
        ("pipeline.poll_timeout", "a duration from 1ms to 10s, such as 100ms"),
        ("pipeline.recommendations_per_user", "an integer from 1 to 1000"),
        ("pipeline.max_in_flight_messages", "an integer from 1 to 10000000"),
        ("pipeline.dedup_window", "an integer from 0 to 100000000"),
        ("pipeline.coalesce_max_delay", "a duration from 0ms to 1h, such as 30s (0ms refreshes every batch)"),
        ("pipeline.coalesce_max_users", "an integer from 1 to 10000000"),
        ("engine.config_file", "a readable engine configuration file (the YAML `evaluate --config` reads)"),
        ("checkpoint.state_dir", "a directory path"),
        ("checkpoint.interval", "a duration from 100ms to 1h, such as 5s"),
        ("http.enabled", "true or false"),
        ("http.host", "an address to bind, such as 127.0.0.1 or 0.0.0.0"),
        ("http.port", "an integer from 0 to 65535"),
        ("log.level", "trace, debug, info, notice, warning, error or critical"),
    ] + FilterSettings.allowed.map { ("recommendations.\($0.name)", $0.allowed) }
    /// Keys under this prefix are librdkafka properties passed through unchanged (file only).
    static let passthroughPrefix = "kafka.properties."

    /// A value and where it came from, for error messages.
    struct Setting: Sendable {
        var value: String
        var source: String
    }

    var settings: [String: Setting] = [:]

    public init() {}

    /// Reads the YAML file at `path` (nested mappings of scalars).
    public mutating func addFile(at path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(key: "--config", value: path, allowed: "a readable UTF-8 YAML file", source: "flag")
        }
        try addYAML(text, source: path)
    }

    /// Reads YAML text; `source` names it in errors.
    public mutating func addYAML(_ text: String, source: String) throws {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(key: "(file)", value: source, allowed: "valid YAML (\(error))", source: source)
        }
        guard let root else { return }
        try flatten(root, prefix: "", source: source)
    }

    private mutating func flatten(_ node: Node, prefix: String, source: String) throws {
        if let mapping = node.mapping {
            for (keyNode, valueNode) in mapping {
                let name = keyNode.string ?? ""
                try flatten(valueNode, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", source: source)
            }
            return
        }
        // A list of scalars is the same as its items separated by commas (the list-valued keys take that).
        if let sequence = node.sequence {
            let items = sequence.compactMap(\.scalar)
            guard items.count == sequence.count else {
                throw ConfigurationError(key: prefix, value: "(a nested list)", allowed: "a single value or a list of values", source: source)
            }
            try flatten(Node(items.map(\.string).joined(separator: ",")), prefix: prefix, source: source)
            return
        }
        guard let scalar = node.scalar else {
            throw ConfigurationError(key: prefix, value: "(a list)", allowed: "a single value", source: source)
        }
        let isKnown = Self.keys.contains { $0.key == prefix } || prefix.hasPrefix(Self.passthroughPrefix)
        guard isKnown else {
            throw ConfigurationError(
                key: prefix, value: scalar.string, allowed: "a known key (see config/streamrec.yaml)", source: source)
        }
        // An empty or `null` YAML value keeps the default.
        if scalar.string.isEmpty || node.tag == Tag(.null) { return }
        settings[prefix] = Setting(value: scalar.string, source: source)
    }

    /// Reads `STREAMREC_*` variables for every key.
    public mutating func addEnvironment(_ environment: [String: String]) {
        for (key, _) in Self.keys {
            let name = Self.environmentName(of: key)
            if let value = environment[name] {
                settings[key] = Setting(value: value, source: "environment variable \(name)")
            }
        }
    }

    /// Sets one key from a command-line flag.
    public mutating func set(_ key: String, _ value: String?, flag: String) {
        guard let value else { return }
        precondition(Self.keys.contains { $0.key == key }, "unknown configuration key \(key)")
        settings[key] = Setting(value: value, source: "flag \(flag)")
    }

    static func environmentName(of key: String) -> String {
        "STREAMREC_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Validates every value; the first wrong one is thrown.
    public func resolve() throws(ConfigurationError) -> ServiceConfiguration {
        var configuration = ServiceConfiguration()
        let reader = Reader(settings: settings)
        configuration.kafka.brokers = try reader.string("kafka.brokers", default: configuration.kafka.brokers) {
            $0.split(separator: ",").allSatisfy { part in
                let pieces = part.split(separator: ":")
                return pieces.count == 2 && !pieces[0].isEmpty && UInt16(pieces[1]) != nil
            }
        }
        configuration.kafka.inputTopic = try reader.string("kafka.input_topic", default: configuration.kafka.inputTopic, valid: Self.isTopicName)
        configuration.kafka.outputTopic = try reader.string("kafka.output_topic", default: configuration.kafka.outputTopic, valid: Self.isTopicName)
        configuration.kafka.deadLetterTopic = try reader.string("kafka.dlq_topic", default: configuration.kafka.deadLetterTopic, valid: Self.isTopicName)
        configuration.kafka.group = try reader.string("kafka.group", default: configuration.kafka.group) { !$0.isEmpty }
        configuration.kafka.startPosition = try reader.parse("kafka.from", default: .committed, parse: Self.startPosition)
        configuration.kafka.createTopics = try reader.boolean("kafka.create_topics", default: configuration.kafka.createTopics)
        configuration.kafka.properties = settings.filter { $0.key.hasPrefix(Self.passthroughPrefix) }
            .reduce(into: [:]) { $0[String($1.key.dropFirst(Self.passthroughPrefix.count))] = $1.value.value }

        configuration.pipeline.maxBatchEvents = try reader.integer("pipeline.max_batch_events", default: configuration.pipeline.maxBatchEvents, in: 1...1_000_000)
        configuration.pipeline.maxBacklogBatchEvents = try reader.integer("pipeline.max_backlog_batch_events", default: configuration.pipeline.maxBacklogBatchEvents, in: 1...1_000_000)
        configuration.pipeline.pollTimeout = try reader.duration("pipeline.poll_timeout", default: configuration.pipeline.pollTimeout, in: .milliseconds(1)...(.seconds(10)))
        configuration.pipeline.recommendationsPerUser = try reader.integer("pipeline.recommendations_per_user", default: configuration.pipeline.recommendationsPerUser, in: 1...1000)
        configuration.pipeline.maxInFlightMessages = try reader.integer("pipeline.max_in_flight_messages", default: configuration.pipeline.maxInFlightMessages, in: 1...10_000_000)
        configuration.pipeline.deduplicationWindow = try reader.integer("pipeline.dedup_window", default: configuration.pipeline.deduplicationWindow, in: 0...100_000_000)
        configuration.pipeline.coalesceMaxDelay = try reader.duration("pipeline.coalesce_max_delay", default: configuration.pipeline.coalesceMaxDelay, in: .zero...(.seconds(3600)))
        configuration.pipeline.coalesceMaxUsers = try reader.integer("pipeline.coalesce_max_users", default: configuration.pipeline.coalesceMaxUsers, in: 1...10_000_000)

        if let setting = settings["engine.config_file"] {
            do {
                configuration.engine = try EngineConfigurationFile.load(setting.value)
            } catch {
                throw ConfigurationError(key: "engine.config_file", value: setting.value, allowed: "a readable engine configuration file with known keys; this one: \(error.problem)", source: setting.source)
            }
        }
        do {
            configuration.filters = try FilterSettings.apply(to: configuration.filters) { settings["recommendations.\($0)"]?.value }
        } catch {
            let key = "recommendations.\(error.name)"
            throw ConfigurationError(key: key, value: settings[key]?.value ?? "", allowed: error.allowed, source: settings[key]?.source ?? "")
        }

        configuration.checkpoint.stateDirectory = try reader.string("checkpoint.state_dir", default: configuration.checkpoint.stateDirectory) { !$0.isEmpty }
        configuration.checkpoint.interval = try reader.duration("checkpoint.interval", default: configuration.checkpoint.interval, in: .milliseconds(100)...(.seconds(3600)))

        configuration.http.isEnabled = try reader.boolean("http.enabled", default: configuration.http.isEnabled)
        configuration.http.host = try reader.string("http.host", default: configuration.http.host) { !$0.isEmpty && !$0.contains(" ") }
        configuration.http.port = try reader.integer("http.port", default: configuration.http.port, in: 0...65535)

        configuration.logLevel = try reader.string("log.level", default: configuration.logLevel) {
            ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains($0)
        }
        return configuration
    }

    static func isTopicName(_ name: String) -> Bool {
        // Kafka's rule: 1–249 characters of [a-zA-Z0-9._-].
        !name.isEmpty && name.count <= 249
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    static func startPosition(_ text: String) -> ServiceConfiguration.StartPosition? {
        switch text {
        case "committed": return .committed
        case "earliest": return .earliest
        default: return parseRFC3339(text).map { .time(milliseconds: $0) }
        }
    }

    /// Milliseconds since the epoch of an RFC 3339 time, with or without fractional seconds.
    public static func parseRFC3339(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        return nil
    }

    /// Parses `250ms`, `5s`, `2m`, `1h`.
    static func parseDuration(_ text: String) -> Duration? {
        let units: [(suffix: String, milliseconds: Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let number = Int64(text.dropLast(unit.suffix.count)), number >= 0 else { return nil }
            return .milliseconds(number * unit.milliseconds)
        }
        return nil
    }

    private struct Reader {
        var settings: [String: Setting]

        func parse<Value>(_ key: String, default defaultValue: Value, parse: (String) -> Value?) throws(ConfigurationError) -> Value {
            guard let setting = settings[key] else { return defaultValue }
            guard let value = parse(setting.value.trimmingCharacters(in: .whitespaces)) else {
                let allowed = ConfigurationSources.keys.first { $0.key == key }?.allowed ?? "a valid value"
                throw ConfigurationError(key: key, value: setting.value, allowed: allowed, source: setting.source)
            }
            return value
        }

        func string(_ key: String, default defaultValue: String, valid: (String) -> Bool) throws(ConfigurationError) -> String {
            try parse(key, default: defaultValue) { valid($0) ? $0 : nil }
        }

        func integer(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            try parse(key, default: defaultValue) { Int($0).flatMap { range.contains($0) ? $0 : nil } }
        }

        func boolean(_ key: String, default defaultValue: Bool) throws(ConfigurationError) -> Bool {
            try parse(key, default: defaultValue, parse: FilterSettings.flag)
        }

        func duration(_ key: String, default defaultValue: Duration, in range: ClosedRange<Duration>) throws(ConfigurationError) -> Duration {
            try parse(key, default: defaultValue) { ConfigurationSources.parseDuration($0).flatMap { range.contains($0) ? $0 : nil } }
        }
    }
}
