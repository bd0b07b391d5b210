import ArgumentParser
import Foundation
import Logging
import StreamRecKafka
import StreamRecService

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Consume events, keep recommendations fresh, publish them per user.",
        discussion: """
            Settings come from --config FILE, then STREAMREC_* environment variables, then these flags \
            (each documented with its default in config/streamrec.yaml). SIGTERM or SIGINT finish the \
            current batch, flush, checkpoint, commit and exit 0.
            """)

    @Option(help: "YAML configuration file (see config/streamrec.yaml).")
    var config: String?

    @Option(help: "Kafka bootstrap servers, host:port[,host:port...].")
    var brokers: String?

    @Flag(help: "Run an in-process Kafka (librdkafka's mock cluster) instead of connecting to one.")
    var embeddedBroker = false

    @Option(help: "Port of the embedded broker.")
    var port = 9092

    @Option(help: "Topic events are read from.")
    var inputTopic: String?

    @Option(help: "Topic recommendations are published to.")
    var outputTopic: String?

    @Option(help: "Dead-letter topic for events that do not decode.")
    var dlqTopic: String?

    @Option(help: "Consumer group id.")
    var group: String?

    @Option(help: "Directory of the checkpoint (engine snapshot + offsets).")
    var stateDir: String?

    @Option(help: "HTTP port (0 picks a free one).")
    var httpPort: String?

    @Option(help: "Start without a checkpoint from: committed, earliest or an RFC 3339 time (the last two rebuild state).")
    var from: String?

    func run() async throws {
        var configuration = try loadConfiguration()
        let logger = CommandLogging.bootstrap(level: configuration.logLevel, label: "streamrec.serve")
        var embedded: EmbeddedKafka?
        if embeddedBroker {
            let broker = try EmbeddedKafka(port: port, logger: logger)
            try EmbeddedTopics.create(on: broker, configuration: configuration)
            configuration.kafka.brokers = broker.bootstrapServers
            embedded = broker
        }
        defer { embedded?.shutdown() }
        try await StreamRecServer(configuration: configuration, logger: logger).run()
    }

    func loadConfiguration() throws -> ServiceConfiguration {
        do {
            var sources = ConfigurationSources()
            if let config { try sources.addFile(at: config) }
            sources.addEnvironment(ProcessInfo.processInfo.environment)
            sources.set("kafka.brokers", brokers, flag: "--brokers")
            sources.set("kafka.input_topic", inputTopic, flag: "--input-topic")
            sources.set("kafka.output_topic", outputTopic, flag: "--output-topic")
            sources.set("kafka.dlq_topic", dlqTopic, flag: "--dlq-topic")
            sources.set("kafka.group", group, flag: "--group")
            sources.set("kafka.from", from, flag: "--from")
            sources.set("checkpoint.state_dir", stateDir, flag: "--state-dir")
            sources.set("http.port", httpPort, flag: "--http-port")
            return try sources.resolve()
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
    }
}

/// The topics `serve --embedded-broker` and `demo` create: events with 6 partitions, output and DLQ.
enum EmbeddedTopics {
    static func create(on broker: EmbeddedKafka, configuration: ServiceConfiguration, inputPartitions: Int = 6) throws {
        try broker.createTopic(configuration.kafka.inputTopic, partitions: inputPartitions)
        try broker.createTopic(configuration.kafka.outputTopic, partitions: inputPartitions)
        try broker.createTopic(configuration.kafka.deadLetterTopic, partitions: 1)
    }
}

enum CommandLogging {
    /// Logs to stderr at `level` (already validated by the configuration).
    static func bootstrap(level: String, label: String) -> Logger {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        return Logger(label: label)
    }
}
