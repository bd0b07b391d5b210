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
        ("pipeline.coalesce_max_users", "0"),
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
}
