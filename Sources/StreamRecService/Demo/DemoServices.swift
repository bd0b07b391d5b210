import Foundation
import Logging
import ServiceLifecycle
import StreamRecEngine
import StreamRecKafka
import Synchronization

/// What the demo shows: a few watched users' latest events and their latest published recommendations.
public final class DemoBoard: Sendable {
    struct Watched: Sendable {
        var userID: String
        var recentEvents: [String] = []
        var latest: RecommendationMessage?
    }

    struct Contents: Sendable {
        var watched: [Watched] = []
        var eventsSent = 0
        var messagesReceived = 0
    }

    let watchedUserCount: Int
    private let contents = Mutex(Contents())

    public init(watchedUsers: Int = 3) {
        watchedUserCount = watchedUsers
    }

    /// The first `watchedUsers` users seen are the ones shown.
    func recordSent(_ event: Event) {
        contents.withLock { contents in
            contents.eventsSent += 1
            guard let userID = event.userID else { return }
            var index = contents.watched.firstIndex { $0.userID == userID }
            if index == nil, contents.watched.count < watchedUserCount {
                contents.watched.append(Watched(userID: userID))
                index = contents.watched.count - 1
            }
            guard let index else { return }
            let what = event.itemID.map { "\(event.type.rawValue) \($0)" } ?? "\(event.type.rawValue) \"\(event.query ?? "")\""
            contents.watched[index].recentEvents = Array((contents.watched[index].recentEvents + [what]).suffix(3))
        }
    }

    func recordReceived(_ message: RecommendationMessage) {
        contents.withLock { contents in
            contents.messagesReceived += 1
            if let index = contents.watched.firstIndex(where: { $0.userID == message.userID }) {
                contents.watched[index].latest = message
            }
        }
    }

    /// The terminal view: one block per watched user.
    public func render(elapsed: Duration, forTerminal: Bool) -> String {
        let contents = contents.withLock { $0 }
        let seconds = Int(elapsed.components.seconds)
        var lines: [String] = []
        if forTerminal {
            lines.append("streamrec demo — \(seconds)s — \(contents.eventsSent) events sent, \(contents.messagesReceived) recommendation messages received (Ctrl-C to stop)")
            lines.append("")
            for watched in contents.watched {
                lines.append("\(watched.userID)")
                lines.append("  latest events: \(watched.recentEvents.joined(separator: "  →  "))")
                guard let latest = watched.latest else {
                    lines.append("  recommendations: (waiting)")
                    lines.append("")
                    continue
                }
                lines.append("  recommendations (after event at offset \(latest.source.offset)):")
                for (rank, item) in latest.items.prefix(5).enumerated() {
                    let reasons = item.reasons.prefix(2).map(\.summary).joined(separator: ", ")
                    lines.append("    \(rank + 1). \(item.itemID)  \(String(format: "%.3f", item.score))  \(reasons)")
                }
                lines.append("")
            }
        } else {
            lines.append("[\(seconds)s] events sent: \(contents.eventsSent), recommendation messages: \(contents.messagesReceived)")
            for watched in contents.watched {
                let items = watched.latest?.items.prefix(3).map { item in
                    "\(item.itemID) (\(item.reasons.first?.summary ?? "-"))"
                }.joined(separator: ", ") ?? "(waiting)"
                lines.append("  \(watched.userID): last \(watched.recentEvents.last ?? "-") → \(items)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Sends demo events at a steady rate: generated sessions, or the lines of a `.jsonl` file.
public struct DemoFeed: Service {
    public enum Source: Sendable {
        case generated(seed: UInt64, users: Int)
        case file(path: String)
    }

    let source: Source
    let eventsPerSecond: Double
    let duration: Duration?
    let brokers: String
    let topic: String
    let board: DemoBoard
    let logger: Logger

    public init(
        source: Source, eventsPerSecond: Double, duration: Duration?, brokers: String, topic: String,
        board: DemoBoard, logger: Logger
    ) {
        self.source = source
        self.eventsPerSecond = eventsPerSecond
        self.duration = duration
        self.brokers = brokers
        self.topic = topic
        self.board = board
        self.logger = logger
    }

    /// Returns after `duration` (ending the demo) or on shutdown.
    public func run() async throws {
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: brokers), logger: logger)
        let clock = ContinuousClock()
        let started = clock.now
        var sent = 0
        func send(_ bytes: [UInt8], paced: Bool) async throws {
            guard let event = try? EventDecoder.decode(bytes) else { return }
            if paced { try await clock.sleep(until: started + .seconds(Double(sent) / eventsPerSecond)) }
            try await producer.enqueue(topic: topic, key: Array((event.userID ?? event.itemID ?? "").utf8), value: bytes)
            board.recordSent(event)
            if paced { sent += 1 }
        }
        func isDone() -> Bool {
            Task.isShuttingDownGracefully || Task.isCancelled || duration.map { clock.now - started >= $0 } ?? false
        }

        do {
            switch source {
            case .generated(let seed, let users):
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                var generator = SessionGenerator(seed: seed, users: users, startMilliseconds: now)
                for event in generator.catalogueEvents() { try await send(event.jsonBytes(), paced: false) }
                while !isDone() { try await send(generator.next().jsonBytes(), paced: true) }
            case .file(let path):
                var reader = try JSONLinesReader(path: path)
                while !isDone(), let line = try reader.nextLine() {
                    try await send(line, paced: true)
                }
            }
        } catch is CancellationError {
            // Shutdown during a pacing sleep.
        }
        await producer.close()
    }
}

/// Reads the output topic into the board and redraws the view: a full-screen refresh on a terminal,
/// plain periodic lines otherwise.
public struct DemoView: Service {
    let brokers: String
    let topic: String
    let board: DemoBoard
    let isTerminal: Bool
    let logger: Logger

    public init(brokers: String, topic: String, board: DemoBoard, isTerminal: Bool, logger: Logger) {
        self.brokers = brokers
        self.topic = topic
        self.board = board
        self.isTerminal = isTerminal
        self.logger = logger
    }

    public func run() async throws {
        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration(bootstrapServers: brokers),
            groupID: "streamrec-demo-view-\(UUID().uuidString)", logger: logger)
        try consumer.subscribe(topics: [topic])
        let clock = ContinuousClock()
        let started = clock.now
        var lastDraw = started
        let redrawInterval: Duration = isTerminal ? .seconds(1) : .seconds(2)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            for case .record(let record) in try await consumer.poll(maxEvents: 1000, timeout: .milliseconds(200)) {
                if let value = record.value, let message = try? RecommendationMessage(decoding: value) {
                    board.recordReceived(message)
                }
            }
            if clock.now - lastDraw >= redrawInterval {
                lastDraw = clock.now
                let text = board.render(elapsed: clock.now - started, forTerminal: isTerminal)
                // Home + clear screen, then the view.
                let screen = (isTerminal ? "\u{1B}[H\u{1B}[2J" : "") + text + "\n"
                FileHandle.standardOutput.write(Data(screen.utf8))
            }
        }
        try await consumer.close()
    }
}
