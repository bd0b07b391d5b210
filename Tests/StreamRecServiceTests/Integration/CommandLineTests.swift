import Foundation
import StreamRecKafka
import Testing
@testable import StreamRecService

/// `replay` and `demo` as a user runs them: the built binary, output checked.
@Suite(.serialized) struct CommandLineTests {
    @Test(.timeLimit(.minutes(1)))
    func replayReportsBadLinesByNumberAndSendsTheRestKeyedByUser() async throws {
        let cluster = try TestCluster(inputPartitions: 2)
        let file = NSTemporaryDirectory() + "replay-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let lines = [
            #"{"event_id":"e1","type":"search","user_id":"u1","query":"tent","timestamp":1000}"#,
            #"{"event_id":"e2","type":"click","user_id":"u1","item_id":"sku-1","timestamp":2000}"#,
            #"{"event_id":"e3","type":"click","user_id":"u2","timestamp":3000}"#,
            "not json",
            "",
            #"{"event_id":"e4","type":"view","user_id":"u2","item_id":"sku-2","timestamp":"2024-11-25T16:00:00Z"}"#,
        ]
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)

        let replay = try runToCompletion(
            ServiceProcess.binaryPath,
            ["replay", "--brokers", cluster.broker.bootstrapServers, "--topic", cluster.inputTopic, file],
            captureStandardError: true)
        #expect(replay.status == 0)
        #expect(replay.errors.contains("\(file):3: field 'item_id'"), "\(replay.errors)")
        #expect(replay.errors.contains("\(file):4: "))
        #expect(!replay.errors.contains("\(file):5:"), "a blank line is not an error")
        #expect(replay.output.contains("replayed 3 events"), "\(replay.output)")
        #expect(replay.output.contains("2 bad lines skipped"))

        let records = try await cluster.read(cluster.inputTopic, timeout: .seconds(20)) { $0.count >= 3 }
        #expect(records.count == 3)
        #expect(Set(records.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }) == ["u1", "u2"])

        let strict = try runToCompletion(
            ServiceProcess.binaryPath,
            ["replay", "--brokers", cluster.broker.bootstrapServers, "--topic", cluster.inputTopic, "--strict", file],
            captureStandardError: true)
        #expect(strict.status == 1)
        #expect(strict.errors.contains("\(file):3: "))
        await cluster.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func demoRunsWithoutATerminalAndEndsCleanly() throws {
        let demo = try runToCompletion(
            ServiceProcess.binaryPath, ["demo", "--duration", "10", "--rate", "50", "--users", "5"],
            captureStandardError: true)
        #expect(demo.status == 0, "\(demo.errors)")
        // Plain periodic lines (no screen control codes), with recommendations and their reasons.
        #expect(!demo.output.contains("\u{1B}["))
        #expect(demo.output.contains("events sent:"))
        let lines = demo.output.split(separator: "\n")
        #expect(lines.contains { $0.contains("user-") && $0.contains("→ sku-") }, "\(demo.output)")
        #expect(demo.output.hasSuffix("streamrec demo stopped.\n"))
        // A clean stop warns about nothing (clients closed before their embedded broker stops are quiet).
        #expect(!demo.errors.contains("warning") && !demo.errors.contains("error"), "\(demo.errors)")
    }
}
