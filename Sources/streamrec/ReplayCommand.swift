import ArgumentParser
import Foundation
import Logging
import StreamRecEngine
import StreamRecKafka
import StreamRecService

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Feed .jsonl event history into a topic (key: user_id).",
        discussion: """
            Every line is checked with the event decoder first: bad lines are reported with their file and \
            line number and skipped, or stop the replay with --strict. Without --rate or --speedup it \
            sends as fast as the broker takes them.
            """)

    @Argument(help: "JSON Lines files, one event per line.")
    var files: [String]

    @Option(help: "Kafka bootstrap servers.")
    var brokers = "localhost:9092"

    @Option(help: "Topic to write to.")
    var topic = "events"

    @Option(help: "Send N events per second.")
    var rate: Double?

    @Option(help: "Pace by event time, X times faster than it happened.")
    var speedup: Double?

    @Flag(help: "Send as fast as possible (the default).")
    var max = false

    @Flag(help: "Stop at the first bad line (exit code 1).")
    var strict = false

    func validate() throws {
        if [rate != nil, speedup != nil, max].filter({ $0 }).count > 1 {
            throw ValidationError("choose one of --rate, --speedup and --max")
        }
        if let rate, !(rate > 0) { throw ValidationError("--rate must be positive, got \(rate)") }
        if let speedup, !(speedup > 0) { throw ValidationError("--speedup must be positive, got \(speedup)") }
        for file in files where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("cannot read \(file)")
        }
    }

    func run() async throws {
        let logger = CommandLogging.bootstrap(level: "warning", label: "streamrec.replay")
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: brokers), logger: logger)
        var progress = Progress(total: try files.reduce(0) { $0 + (try Self.countLines(in: $1)) })
        let clock = ContinuousClock()
        let started = clock.now
        var firstEventTime: Int64?
        var sent = 0
        var badLines = 0

        for file in files {
            var lineNumber = 0
            var reader = try JSONLinesReader(path: file)
            while let bytes = try reader.nextLine() {
                lineNumber += 1
                progress.advance()
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                let event: Event
                do {
                    event = try EventDecoder.decode(bytes)
                } catch {
                    badLines += 1
                    progress.clear()
                    FileHandle.standardError.write(Data("\(file):\(lineNumber): \(error)\n".utf8))
                    if strict {
                        await producer.close()
                        throw ExitCode.failure
                    }
                    continue
                }
                // Pacing: wait until this event is due.
                if let rate {
                    try await clock.sleep(until: started + .seconds(Double(sent) / rate))
                } else if let speedup {
                    let first = firstEventTime ?? event.timestampMilliseconds
                    firstEventTime = first
                    let dueMilliseconds = Double(event.timestampMilliseconds - first) / speedup
                    try await clock.sleep(until: started + .milliseconds(Int64(dueMilliseconds)))
                }
                let key = event.userID ?? event.itemID
                try await producer.enqueue(topic: topic, key: key.map { Array($0.utf8) }, value: bytes)
                sent += 1
                progress.draw(sent: sent, elapsed: clock.now - started)
            }
        }
        try await producer.flush(timeout: .seconds(60))
        await producer.close()
        progress.clear()
        let seconds = Self.seconds(clock.now - started)
        print("replayed \(sent) events to \(topic) in \(String(format: "%.1f", seconds)) s (\(Int(Double(sent) / Swift.max(seconds, 0.001))) events/s); \(badLines) bad lines skipped")
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func countLines(in path: String) throws -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ValidationError("cannot read \(path)") }
        defer { try? handle.close() }
        var count = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            count += chunk.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        }
        return count
    }

    /// A one-line progress bar on stderr, drawn only when stderr is a terminal.
    struct Progress {
        let total: Int
        var read = 0
        var lastDraw = ContinuousClock.now
        let isTerminal = isatty(STDERR_FILENO) == 1

        init(total: Int) { self.total = total }

        mutating func advance() { read += 1 }

        mutating func draw(sent: Int, elapsed: Duration) {
            guard isTerminal, ContinuousClock.now - lastDraw >= .milliseconds(200) else { return }
            lastDraw = ContinuousClock.now
            let seconds = Swift.max(ReplayCommand.seconds(elapsed), 0.001)
            let rate = Double(sent) / seconds
            let fraction = total > 0 ? Double(read) / Double(total) : 1
            let width = 30
            let filled = Int(fraction * Double(width))
            let remaining = rate > 0 ? Double(total - read) / rate : 0
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let line = String(
                format: "\r[%@] %3.0f%%  %d events  %.0f/s  ETA %d:%02d ", bar, fraction * 100, sent, rate,
                Int(remaining) / 60, Int(remaining) % 60)
            FileHandle.standardError.write(Data(line.utf8))
        }

        func clear() {
            if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        }
    }
}
