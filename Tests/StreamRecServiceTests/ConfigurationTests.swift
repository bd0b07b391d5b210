import Foundation
import StreamRecEngine
import StreamRecKafka
import Testing
@testable import StreamRecService

@Suite struct ConfigurationTests {
    @Test func defaultsWithoutAnySource() throws {
        let configuration = try ConfigurationSources().resolve()
        #expect(configuration == ServiceConfiguration())
        #expect(configuration.http.host == "127.0.0.1")
        #expect(configuration.kafka.startPosition == .committed)
    }

    @Test func flagsOverrideEnvironmentOverrideFile() throws {
        var sources = ConfigurationSources()
        try sources.addYAML("http:\n  port: 9000\nkafka:\n  group: from-file\n  input_topic: file-topic\n", source: "test.yaml")
        sources.addEnvironment(["STREAMREC_HTTP_PORT": "9001", "STREAMREC_KAFKA_GROUP": "from-env", "UNRELATED": "x"])
        sources.set("http.port", "9002", flag: "--http-port")
        let configuration = try sources.resolve()
        #expect(configuration.http.port == 9002)
        #expect(configuration.kafka.group == "from-env")
        #expect(configuration.kafka.inputTopic == "file-topic")
    }

    @Test func shippedConfigFileMatchesTheDefaults() throws {
        var sources = ConfigurationSources()
        try sources.addFile(at: RepositoryRoot.path + "/config/streamrec.yaml")
        #expect(try sources.resolve() == ServiceConfiguration())
    }

    @Test func shippedConfigFileDocumentsEveryKey() throws {
        let text = try String(contentsOfFile: RepositoryRoot.path + "/config/streamrec.yaml", encoding: .utf8)
        for (key, _) in ConfigurationSources.keys {
            let leaf = key.split(separator: ".").last!
            #expect(text.contains("  \(leaf):"), "config/streamrec.yaml lacks \(key)")
        }
    }

    @Test(arguments: [
        ("http.port", "70000"), ("http.port", "eighty"), ("kafka.from", "yesterday"),
        ("pipeline.poll_timeout", "100"), ("checkpoint.interval", "5 s"), ("kafka.brokers", "localhost"),
        ("kafka.input_topic", "bad topic"), ("http.enabled", "yes please"), ("log.level", "loud"),
        ("pipeline.max_batch_events", "0"), ("pipeline.coalesce_max_delay", "2h"), ("pipeline.coalesce_max_delay", "30"),
        ("pipeline.coalesce_max_users", "0"), ("recommendations.diversity", "1.5"),
        ("recommendations.exclude_seen", "maybe"), ("recommendations.deny_items", "sku-1,,sku-2"),
        ("engine.config_file", "/nonexistent/engine.yaml"),
    ])
    func wrongValueNamesKeyAndWhatIsAllowed(key: String, value: String) throws {
        var sources = ConfigurationSources()
        sources.addEnvironment([ConfigurationSources.environmentName(of: key): value])
        let error = #expect(throws: ConfigurationError.self) { try sources.resolve() }
        #expect(error?.key == key)
        #expect(error?.value == value)
        #expect(error?.source.contains("STREAMREC_") == true)
        #expect(error?.description.contains("expected") == true)
    }

    @Test func unknownKeyInFileIsRejected() {
        var sources = ConfigurationSources()
        let error = #expect(throws: ConfigurationError.self) {
            try sources.addYAML("http:\n  prot: 80\n", source: "typo.yaml")
        }
        #expect(error?.key == "http.prot")
        #expect(error?.source == "typo.yaml")
    }

    @Test func parsesStartPositionsDurationsAndPassthrough() throws {
        var sources = ConfigurationSources()
        try sources.addYAML("""
            kafka:
              from: 2024-11-25T16:00:00.500Z
              properties:
                fetch.max.bytes: "1048576"
            pipeline:
              poll_timeout: 250ms
            checkpoint:
              interval: 2m
            """, source: "test.yaml")
        let configuration = try sources.resolve()
        #expect(configuration.kafka.startPosition == .time(milliseconds: 1_732_550_400_500))
        #expect(configuration.kafka.properties == ["fetch.max.bytes": "1048576"])
        #expect(configuration.pipeline.pollTimeout == .milliseconds(250))
        #expect(configuration.checkpoint.interval == .seconds(120))
    }

    /// serve's producer lingers 1 ms, not librdkafka's 5 (each of a batch's recommendations would wait it), unless
    /// `kafka.properties` sets a linger under either of librdkafka's names.
    @Test func outputProducerLingersOneMillisecondUnlessConfigured() {
        let plain = KafkaConfiguration(bootstrapServers: "localhost:9092")
        #expect(StreamingPipeline.outputProducerConfiguration(plain).properties["linger.ms"] == "1")
        let linger = KafkaConfiguration(bootstrapServers: "localhost:9092", properties: ["linger.ms": "20"])
        #expect(StreamingPipeline.outputProducerConfiguration(linger).properties["linger.ms"] == "20")
        let alias = KafkaConfiguration(bootstrapServers: "localhost:9092", properties: ["queue.buffering.max.ms": "7"])
        #expect(StreamingPipeline.outputProducerConfiguration(alias).properties == ["queue.buffering.max.ms": "7"])
    }

    @Test func recommendationFiltersFromListsCommasAndEnvironment() throws {
        var sources = ConfigurationSources()
        try sources.addYAML("""
            recommendations:
              exclude_seen: true
              include_categories: [shoes, boots]
              deny_items: "sku-1, sku-2"
              diversity: 0.3
            """, source: "test.yaml")
        sources.addEnvironment(["STREAMREC_RECOMMENDATIONS_EXCLUDE_PURCHASED": "false"])
        let filters = try sources.resolve().filters
        #expect(filters == RecommendationFilters(
            excludePurchased: false, excludeSeen: true, includeCategories: ["shoes", "boots"], excludeCategories: [],
            denyItems: ["sku-1", "sku-2"], diversity: 0.3))
    }

    @Test func engineConfigurationFileIsReadAndItsUnknownKeysAreNamed() throws {
        let directory = NSTemporaryDirectory() + "streamrec-engine-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = directory + "/engine.yaml"
        try "blend:\n  semantic: 0.5\ncapacity:\n  maxUsers: 1000\n".write(toFile: good, atomically: true, encoding: .utf8)
        var sources = ConfigurationSources()
        sources.set("engine.config_file", good, flag: "test")
        let engine = try sources.resolve().engine
        #expect(engine.blend.semantic == 0.5)
        #expect(engine.capacity.maxUsers == 1000)
        #expect(engine.blend.recent == EngineConfiguration().blend.recent)

        let typo = directory + "/typo.yaml"
        try "blend:\n  semntic: 0.5\n".write(toFile: typo, atomically: true, encoding: .utf8)
        sources.set("engine.config_file", typo, flag: "test")
        let error = #expect(throws: ConfigurationError.self) { try sources.resolve() }
        #expect(error?.key == "engine.config_file")
        #expect(error?.description.contains("unknown key 'blend.semntic'") == true)
    }
}
