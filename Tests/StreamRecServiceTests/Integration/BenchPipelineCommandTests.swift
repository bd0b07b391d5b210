import Foundation
import StreamRecKafka
import Testing

/// `bench pipeline --brokers` against a cluster in another process (here: the test's embedded broker, which,
/// like `streamrec broker`, cannot create topics on request), checked before any event is sent.
@Suite struct BenchPipelineCommandTests {
    @Test(.timeLimit(.minutes(1)))
    func topicsWithOtherPartitionCountsStopTheRunNamingEachAndTheFix() throws {
        let broker = try EmbeddedKafka(logger: TestCluster.logger)
        defer { broker.shutdown() }
        let runID = "t\(UUID().uuidString.prefix(8))"
        let partitions = ["pass-in": 3, "pass-out": 3, "serve-in": 3, "serve-out": 4, "latency-in": 2, "latency-out": 3, "dlq": 1]
        for (role, count) in partitions { try broker.createTopic("bench-\(runID)-\(role)", partitions: count) }

        let run = try runToCompletion(
            ServiceProcess.binaryPath,
            ["bench", "pipeline", "--brokers", broker.bootstrapServers, "--run-id", runID, "--partitions", "3",
             "--events", "100"],
            captureStandardError: true)
        #expect(run.status != 0)
        #expect(run.errors.contains("topic bench-\(runID)-serve-out has 4 partitions, the run needs 3"), "\(run.errors)")
        #expect(run.errors.contains("topic bench-\(runID)-latency-in has 2 partitions, the run needs 3"))
        #expect(!run.errors.contains("topic bench-\(runID)-pass-in "), "topics that fit are not reported")
        // The fix for a broker that cannot create topics: every topic with the count the run needs.
        #expect(run.errors.contains(
            "streamrec broker --topic bench-\(runID)-pass-in:3 --topic bench-\(runID)-pass-out:3 "
                + "--topic bench-\(runID)-serve-in:3 --topic bench-\(runID)-serve-out:3 "
                + "--topic bench-\(runID)-latency-in:3 --topic bench-\(runID)-latency-out:3 --topic bench-\(runID)-dlq:1"))
        #expect(!run.output.contains("pass-through:"), "no phase ran")
    }

    /// Interrupted as serve starts (0 s), and while the bench reads serve's progress over HTTP, which fails as
    /// the interrupt stops serve (3 s).
    @Test(.timeLimit(.minutes(2)), arguments: [0, 3])
    func anInterruptedRunLeavesNoServeBehind(secondsAfterServeStarts: UInt32) throws {
        let bench = Process()
        bench.executableURL = URL(fileURLWithPath: ServiceProcess.binaryPath)
        bench.arguments = ["bench", "pipeline", "--events", "20000", "--partitions", "4", "--latency-seconds", "0"]
        bench.standardOutput = FileHandle.nullDevice
        bench.standardError = FileHandle.nullDevice
        try bench.run()
        defer { if bench.isRunning { bench.terminate() } }
        var serve: Int32?
        let deadline = Date() + 60
        while serve == nil, Date() < deadline {
            serve = Self.child(of: bench.processIdentifier, running: "serve")
            usleep(50_000)
        }
        let servePID = try #require(serve, "bench pipeline started serve within 60 s")
        defer { kill(servePID, SIGKILL) }
        sleep(secondsAfterServeStarts)

        kill(bench.processIdentifier, SIGTERM)
        bench.waitUntilExit()
        #expect(bench.terminationStatus == 128 + SIGTERM)
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(servePID)"), "serve was stopped (and reaped) before the bench exited")
    }

    /// A child process of `parent` whose command line has the argument `argument` (Linux `/proc`).
    static func child(of parent: Int32, running argument: String) -> Int32? {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        return pids.first { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")"),
                let parentField = stat[stat.index(after: close)...].split(separator: " ").dropFirst().first,
                Int32(parentField) == parent,
                let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            return commandLine.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument }
        }
    }

    @Test(arguments: [
        (["--brokers", "localhost"], "--brokers: 'localhost' is not HOST:PORT"),
        (["--brokers", "localhost:9092,"], "--brokers: '' is not HOST:PORT"),
        (["--run-id", "a/b"], "--run-id 'a/b'"),
        (["--broker-pid", "1"], "--broker-pid needs --brokers"),
    ])
    func badOptionsAreRejectedBeforeConnecting(arguments: [String], message: String) throws {
        let run = try runToCompletion(
            ServiceProcess.binaryPath, ["bench", "pipeline"] + arguments, captureStandardError: true)
        #expect(run.status == 64, "ArgumentParser's usage error")
        #expect(run.errors.contains(message), "\(run.errors)")
    }
}
