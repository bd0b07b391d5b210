import ArgumentParser
import Foundation
import StreamRecEngine
import StreamRecService

/// `streamrec evaluate`: replays event files through the engine and scores next-click predictions.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Replay train events, then score each test click against the top-K (see docs/evaluation.md).",
        discussion: """
            Protocol: train files are replayed, then test files, in file order. Before each test click whose \
            (user, session) already had a click/view/cart/purchase, the engine is asked for the user's top-K with \
            nothing excluded; HR@K, MRR@K and NDCG@K score the clicked item. Every event is then applied.
            """
    )

    @Option(name: .long, parsing: .upToNextOption, help: "JSON Lines event files replayed first.")
    var train: [String]

    @Option(name: .long, parsing: .upToNextOption, help: "JSON Lines event files whose clicks are scored.")
    var test: [String]

    @Option(name: .long, help: "Length of the recommendation list.")
    var k: Int = 20

    @Option(name: .long, help: "popular, itemcf, semantic or hybrid.")
    var algorithm: EngineConfiguration.Algorithm = .hybrid

    @Option(name: .long, help: "YAML engine configuration; absent keys keep their defaults.")
    var config: String?

    @Flag(name: .long, help: "Print the report as one JSON object on the last line of stdout.")
    var json = false

    func validate() throws {
        guard k > 0 else { throw ValidationError("--k must be positive (got \(k))") }
        guard !train.isEmpty, !test.isEmpty else { throw ValidationError("give at least one --train and one --test file") }
    }

    func run() throws {
        let configuration = try config.map(EngineConfigurationFile.loadForCommand) ?? EngineConfiguration()
        let trainEvents = try EventFile.read(train)
        let testEvents = try EventFile.read(test)
        let progress = ProgressBar(label: "evaluate \(algorithm.rawValue)")
        let report = Evaluator.run(
            train: trainEvents, test: testEvents, k: k, algorithm: algorithm, configuration: configuration,
            progress: progress.map { bar in { done, total in bar.update(done: done, total: total) } })
        progress?.finish()

        func line(_ label: String, _ value: String) { print(label.padding(toLength: 19, withPad: " ", startingAt: 0) + value) }
        line("algorithm", report.algorithm)
        line("scored clicks", "\(report.scored) (of \(report.events) events)")
        line("HR@\(k)", format(report.hitRate))
        line("MRR@\(k)", format(report.mrr))
        line("NDCG@\(k)", format(report.ndcg))
        line("coverage", format(report.coverage))
        line("events/s", "\(Int(report.eventsPerSecond))")
        line("recommend p50/p99", "\(format(report.recommendP50Milliseconds)) / \(format(report.recommendP99Milliseconds)) ms")
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }

    private func format(_ value: Double) -> String { String(format: "%.4f", value) }
}

extension EngineConfiguration.Algorithm: ExpressibleByArgument {}

extension EngineConfigurationFile {
    /// ``load(_:)`` with the failure as a command-line validation error.
    static func loadForCommand(_ path: String) throws -> EngineConfiguration {
        do {
            return try load(path)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// JSON Lines event files, decoded with the engine's decoder; malformed lines are reported and skipped.
enum EventFile {
    static func read(_ paths: [String]) throws -> [Event] {
        var events: [Event] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read event file '\(path)'")
            }
            var malformed = 0
            let bytes = [UInt8](data)
            bytes.withUnsafeBytes { buffer in
                var lineStart = 0
                var lineNumber = 0
                while lineStart < buffer.count {
                    var lineEnd = lineStart
                    while lineEnd < buffer.count, buffer[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                    lineNumber += 1
                    let line = UnsafeRawBufferPointer(rebasing: buffer[lineStart..<lineEnd])
                    lineStart = lineEnd + 1
                    if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                    do {
                        events.append(try EventDecoder.decode(line))
                    } catch {
                        malformed += 1
                        if malformed <= 5 { Standard.error("\(path):\(lineNumber): \(error)") }
                    }
                }
            }
            if malformed > 0 { Standard.error("\(path): skipped \(malformed) malformed line(s)") }
        }
        return events
    }
}

enum Standard {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// A one-line progress bar on stderr; only exists when stderr is a terminal.
final class ProgressBar {
    private let label: String
    private var lastPercent = -1

    init?(label: String) {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        self.label = label
    }

    func update(done: Int, total: Int) {
        let percent = total > 0 ? done * 100 / total : 100
        guard percent != lastPercent else { return }
        lastPercent = percent
        let width = 30
        let filled = percent * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(percent)%".utf8))
    }

    func finish() {
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
