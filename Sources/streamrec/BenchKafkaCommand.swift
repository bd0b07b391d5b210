import ArgumentParser
import Foundation
import Logging
import StreamRecKafka

/// `streamrec bench kafka`: our producer and consumer next to kcat, on one embedded broker, in one run.
///
/// Method: each side gets its own topic with enough partitions that the mock broker keeps every message
/// (it keeps only the last few MB per partition), so produce and consume are measured as separate phases:
/// - produce: ours enqueues N messages and flushes; kcat runs `kcat -P -l FILE` over a file of the same N
///   messages. Both are timed until every message is acknowledged.
/// - consume: ours subscribes as a consumer group and polls batches until N records, timed from the moment
///   the group assigns the partitions (the mock's ~3 s join delay is not throughput); kcat runs
///   `kcat -C -o beginning -e -q` to end of every partition, timed as a whole process.
struct BenchKafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Producer and consumer throughput against kcat on the embedded broker."
    )

    @Option(help: "Messages per side and direction.")
    var messages: Int = 1_000_000

    @Option(help: "Bytes per message value.")
    var size: Int = 200

    @Option(help: "Partitions per topic; enough that the mock keeps every message (it keeps ~4 MB per partition).")
    var partitions: Int = 128

    @Option(help: "Path of the kcat executable.")
    var kcat: String = "/usr/bin/kcat"

    func validate() throws {
        guard messages > 0, size >= 12 else { throw ValidationError("--messages must be > 0 and --size >= 12") }
        guard partitions > 0 else { throw ValidationError("--partitions must be > 0") }
        guard FileManager.default.isExecutableFile(atPath: kcat) else {
            throw ValidationError("kcat not found at \(kcat): install it (apt-get install kcat) or pass --kcat PATH")
        }
        let perPartitionBytes = messages / partitions * (size + 70)
        guard perPartitionBytes < 4_000_000 else {
            throw ValidationError(
                "\(messages) messages of \(size) B over \(partitions) partitions exceed what the mock keeps per "
                    + "partition (~4 MB): raise --partitions")
        }
    }

    func run() async throws {
        var logger = Logger(label: "streamrec.bench.kafka")
        logger.logLevel = .warning
        let kafka = try EmbeddedKafka(brokers: 1, logger: logger)
        let configuration = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let ourTopic = "bench-streamrec"
        let kcatTopic = "bench-kcat"
        try kafka.createTopic(ourTopic, partitions: partitions)
        try kafka.createTopic(kcatTopic, partitions: partitions)
        print("embedded broker \(kafka.bootstrapServers), \(messages) messages of \(size) B, \(partitions) partitions per topic")

        // The same payloads for both: a 10-digit sequence number padded with letters.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("streamrec-bench-\(getpid()).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try writeMessageFile(to: file)

        let ourProduce = try await produceWithOurs(configuration: configuration, topic: ourTopic, logger: logger)
        let kcatProduce = try await timeKcat(["-P", "-b", kafka.bootstrapServers, "-t", kcatTopic, "-l", file.path])
        let ourConsume = try await consumeWithOurs(configuration: configuration, topic: ourTopic, logger: logger)
        let kcatConsume = try await timeKcat(["-C", "-b", kafka.bootstrapServers, "-t", kcatTopic, "-o", "beginning", "-e", "-q"])

        let kcatTopicCount = try await countMessages(in: kcatTopic, configuration: configuration, logger: logger)
        guard kcatTopicCount == Int64(messages) else {
            throw ValidationError("kcat produced \(kcatTopicCount) messages, expected \(messages)")
        }

        print("")
        printRow("", "msgs/s", "MB/s", "seconds")
        report("produce  streamrec", ourProduce)
        report("produce  kcat", kcatProduce)
        report("consume  streamrec", ourConsume)
        report("consume  kcat", kcatConsume)
        print(String(format: "ratio produce %.2f×, consume %.2f× (streamrec / kcat; goal ≥ 0.8)",
            kcatProduce / ourProduce, kcatConsume / ourConsume))
        kafka.shutdown()
    }

    /// Sum of the high watermarks: what kcat's producer got acknowledged.
    private func countMessages(in topic: String, configuration: KafkaConfiguration, logger: Logger) async throws -> Int64 {
        let probe = try KafkaConsumer(configuration: configuration, groupID: "bench-check", logger: logger)
        var count: Int64 = 0
        for partition in 0..<partitions {
            count += try await probe.watermarks(KafkaTopicPartition(topic: topic, partition: Int32(partition))).high
        }
        try await probe.close()
        return count
    }

    private func writeMessageFile(to url: URL) throws {
        var lines = Data(capacity: messages * (size + 1))
        var payload = makePayload()
        for sequence in 0..<messages {
            stamp(&payload, sequence)
            lines.append(contentsOf: payload)
            lines.append(UInt8(ascii: "\n"))
        }
        try lines.write(to: url)
    }

    private func makePayload() -> [UInt8] {
        (0..<size).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    }

    private func stamp(_ payload: inout [UInt8], _ sequence: Int) {
        var value = sequence
        for index in stride(from: 9, through: 0, by: -1) {
            payload[index] = UInt8(ascii: "0") + UInt8(value % 10)
            value /= 10
        }
    }

    private func produceWithOurs(configuration: KafkaConfiguration, topic: String, logger: Logger) async throws -> Duration {
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        var payload = makePayload()
        let start = ContinuousClock.now
        for sequence in 0..<messages {
            stamp(&payload, sequence)
            try await producer.enqueue(topic: topic, key: nil, value: payload)
        }
        try await producer.flush(timeout: .seconds(120))
        let elapsed = ContinuousClock.now - start
        await producer.close()
        return elapsed
    }

    private func consumeWithOurs(configuration: KafkaConfiguration, topic: String, logger: Logger) async throws -> Duration {
        let consumer = try KafkaConsumer(configuration: configuration, groupID: "bench-\(getpid())", logger: logger)
        try consumer.subscribe(topics: [topic])
        var start: ContinuousClock.Instant?
        var received = 0
        var bytes = 0
        while received < messages {
            for event in try await consumer.poll(maxEvents: 10_000, timeout: .seconds(1)) {
                switch event {
                case .partitionsAssigned: start = start ?? .now
                case .record(let record):
                    received += 1
                    bytes += record.value?.count ?? 0
                case .partitionsRevoked: break
                }
            }
        }
        let elapsed = ContinuousClock.now - start!
        guard bytes == messages * size else { throw ValidationError("consumed \(bytes) bytes, expected \(messages * size)") }
        try await consumer.close()
        return elapsed
    }

    /// Runs kcat to completion (stdout discarded) and returns its wall time.
    private func timeKcat(_ arguments: [String]) async throws -> Duration {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kcat)
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let start = ContinuousClock.now
        try process.run()
        // waitUntilExit blocks: keep it off the cooperative pool.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
        let elapsed = ContinuousClock.now - start
        guard process.terminationStatus == 0 else {
            throw ValidationError("kcat \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return elapsed
    }

    private func report(_ label: String, _ elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(messages) / seconds
        printRow(label, String(format: "%.0f", rate), String(format: "%.1f", rate * Double(size) / 1_000_000),
            String(format: "%.2f", seconds))
    }

    private func printRow(_ columns: String...) {
        print(columns.enumerated().map { $0.offset == 0 ? $0.element.padding(toLength: 20, withPad: " ", startingAt: 0)
            : String(repeating: " ", count: max(0, 12 - $0.element.count)) + $0.element }.joined())
    }
}
