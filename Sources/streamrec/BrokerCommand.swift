import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import StreamRecKafka

/// `streamrec broker`: an embedded Kafka (librdkafka's mock cluster) for development, usable by any client.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run an embedded Kafka broker on 127.0.0.1 until Ctrl-C.",
        discussion: """
            Prints `bootstrap: HOST:PORT` on stdout once it accepts connections, e.g. for \
            `kcat -b 127.0.0.1:9092 -L`. The mock keeps only the last few MB of each partition.
            """
    )

    @Option(help: "Fixed loopback port for clients to bootstrap from (0: the brokers' own ephemeral ports).")
    var port: Int = 9092

    @Option(help: "Number of brokers in the cluster.")
    var brokers: Int = 3

    @Option(name: .customLong("topic"), help: "Topic to create, as NAME:PARTITIONS (repeatable).")
    var topics: [TopicSpecification] = []

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        guard brokers >= 1 else { throw ValidationError("--brokers must be at least 1, got \(brokers)") }
    }

    func run() async throws {
        let logger = Logger(label: "streamrec.broker")
        let kafka = try EmbeddedKafka(brokers: brokers, port: port == 0 ? nil : port, logger: logger)
        for topic in topics {
            try kafka.createTopic(topic.name, partitions: topic.partitions, replicationFactor: min(3, brokers))
        }
        // Unbuffered, so a script reading our stdout sees the address at once.
        FileHandle.standardOutput.write(Data("bootstrap: \(kafka.bootstrapServers)\n".utf8))
        let group = ServiceGroup(services: [kafka], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// `NAME:PARTITIONS`, e.g. `events:6`.
struct TopicSpecification: ExpressibleByArgument {
    var name: String
    var partitions: Int

    init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, let partitions = Int(parts[1]), partitions > 0 else { return nil }
        name = String(parts[0])
        self.partitions = partitions
    }
}
