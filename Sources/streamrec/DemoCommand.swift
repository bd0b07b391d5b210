import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import StreamRecKafka
import StreamRecService

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See streamrec work: embedded Kafka, the service, a stream of shop sessions and a live view.",
        discussion: """
            Needs no Kafka and no files. Generated users search, click, view, cart and buy; the view shows \
            a few users' latest events next to the recommendations streamrec just published for them, with \
            reasons. Ctrl-C stops it cleanly.
            """)

    @Option(help: "Replay this .jsonl history instead of generated sessions.")
    var input: String?

    @Option(help: "Events sent per second.")
    var rate: Double = 20

    @Option(help: "Generated users.")
    var users = 30

    @Option(help: "Seed of the generated sessions (same seed, same sessions).")
    var seed: UInt64 = 42

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    @Option(help: "HTTP port of the service (0 picks a free one).")
    var httpPort = 0

    @Option(help: "Port of the embedded broker (default: any free port).")
    var port: Int?

    func validate() throws {
        guard rate > 0 else { throw ValidationError("--rate must be positive") }
        guard users > 0 else { throw ValidationError("--users must be positive") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        if let input, !FileManager.default.isReadableFile(atPath: input) { throw ValidationError("cannot read \(input)") }
    }

    func run() async throws {
        let logger = CommandLogging.bootstrap(level: "warning", label: "streamrec.demo")
        let broker = try EmbeddedKafka(port: port, logger: logger)
        defer { broker.shutdown() }
        let stateDirectory = NSTemporaryDirectory() + "streamrec-demo-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? FileManager.default.removeItem(atPath: stateDirectory) }

        var configuration = ServiceConfiguration()
        configuration.kafka.brokers = broker.bootstrapServers
        configuration.kafka.group = "streamrec-demo"
        configuration.checkpoint.stateDirectory = stateDirectory
        configuration.http.port = httpPort
        configuration.pipeline.pollTimeout = .milliseconds(50)
        try EmbeddedTopics.create(on: broker, configuration: configuration)

        let isTerminal = isatty(STDOUT_FILENO) == 1
        let board = DemoBoard()
        let feed = DemoFeed(
            source: input.map { .file(path: $0) } ?? .generated(seed: seed, users: users),
            eventsPerSecond: rate, duration: duration.map { .milliseconds(Int64($0 * 1000)) },
            brokers: broker.bootstrapServers, topic: configuration.kafka.inputTopic, board: board, logger: logger)
        let view = DemoView(
            brokers: broker.bootstrapServers, topic: configuration.kafka.outputTopic, board: board,
            isTerminal: isTerminal, logger: logger)
        let server = StreamRecServer(configuration: configuration, logger: logger)
        FileHandle.standardOutput.write(Data("streamrec demo: embedded Kafka at \(broker.bootstrapServers); events → \(configuration.kafka.inputTopic), recommendations → \(configuration.kafka.outputTopic)\n".utf8))
        try await server.run(extraServices: [
            .init(service: view),
            // The feed ending (after --duration) ends the demo.
            .init(service: feed, successTerminationBehavior: .gracefullyShutdownGroup),
        ])
        FileHandle.standardOutput.write(Data("streamrec demo stopped.\n".utf8))
    }
}
