import ArgumentParser
import Foundation
import Logging
import StreamRecKafka
import StreamRecService

struct SubscribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscribe",
        abstract: "Print recommendations as they are published.")

    @Option(help: "Kafka bootstrap servers.")
    var brokers = "localhost:9092"

    @Option(help: "Topic to read.")
    var topic = "recommendations"

    @Option(help: "Only this user's recommendations.")
    var user: String?

    @Flag(help: "Start from the oldest message kept instead of new ones.")
    var fromBeginning = false

    @Flag(help: "One JSON message per line, exactly as published.")
    var json = false

    @Option(help: "Exit after printing this many messages.")
    var maxMessages: Int?

    @Option(help: "Exit after this many seconds without a message, counted from when partitions are assigned.")
    var idleTimeout: Double?

    func run() async throws {
        let logger = CommandLogging.bootstrap(level: "warning", label: "streamrec.subscribe")
        // A group of its own: reading never moves anyone else's offsets, and nothing is committed.
        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration(
                bootstrapServers: brokers,
                properties: ["auto.offset.reset": fromBeginning ? "earliest" : "latest"]),
            groupID: "streamrec-subscribe-\(UUID().uuidString)", logger: logger)
        try consumer.subscribe(topics: [topic])
        var printed = 0
        var lastMessage = ContinuousClock.now
        reading: while !Task.isCancelled {
            let events = try await consumer.poll(maxEvents: 500, timeout: .milliseconds(200))
            // Joining the group takes seconds; the idle clock starts once there is something to read.
            if events.contains(where: { if case .partitionsAssigned = $0 { true } else { false } }) {
                lastMessage = ContinuousClock.now
            }
            for case .record(let record) in events {
                lastMessage = ContinuousClock.now
                guard let value = record.value else { continue }
                let message: RecommendationMessage
                do {
                    message = try RecommendationMessage(decoding: value)
                } catch {
                    FileHandle.standardError.write(Data("skipping a message that is not a recommendation at \(record.topic)[\(record.partition)]@\(record.offset)\n".utf8))
                    continue
                }
                if let user, message.userID != user { continue }
                let text = json ? String(decoding: value, as: UTF8.self) : Self.describe(message)
                FileHandle.standardOutput.write(Data((text + "\n").utf8))
                printed += 1
                if let maxMessages, printed >= maxMessages { break reading }
            }
            if let idleTimeout, ContinuousClock.now - lastMessage >= .milliseconds(Int64(idleTimeout * 1000)) { break }
        }
        try await consumer.close()
    }

    /// A person-readable block: who, when, from which event, then ranked items with scores and reasons.
    static func describe(_ message: RecommendationMessage) -> String {
        var lines = [
            "\(message.userID)  at \(Self.time(message.eventTime))  from \(message.source.topic)[\(message.source.partition)]@\(message.source.offset)  (\(message.modelVersion))"
        ]
        for (rank, item) in message.items.enumerated() {
            let reasons = item.reasons.map(\.summary).joined(separator: ", ")
            let rankText = String(rank + 1).leftPadded(to: 4)
            let itemText = item.itemID.padding(toLength: Swift.max(24, item.itemID.count), withPad: " ", startingAt: 0)
            lines.append("\(rankText). \(itemText) \(String(format: "%7.3f", item.score))  \(reasons)")
        }
        if message.items.isEmpty { lines.append("  (nothing to recommend yet)") }
        return lines.joined(separator: "\n")
    }

    static func time(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
