import ArgumentParser
import Foundation
import Logging
import StreamRecKafka
import Synchronization

/// `streamrec bench kafka`: our producer and consumer next to kcat, on one embedded broker, in one run.
///
/// Method: each side gets its own topic with enough partitions that the mock broker keeps every message
/// (it keeps only the last ~5 MB per partition), so produce and consume are measured as separate phases:
/// - produce: ours enqueues N keyed messages and flushes; kcat runs `kcat -P -K TAB -l FILE` over a file of the
///   same N messages, once with our producer's settings (idempotence on, Nagle off: the headline) and once with its own
///   defaults (reference). All are timed until every message is acknowledged, and every partition is then checked
///   to hold all its messages.
/// - consume: ours subscribes as a consumer group and polls batches until N records, timed from the moment
///   the group assigns the partitions (the mock's ~3 s join delay is not throughput); kcat runs
///   `kcat -C -o beginning -e -q` (no group) with our clients' librdkafka defaults (`-X`) to the end of every
///   partition, timed as a whole process.
///
/// Keys are the messages' sequence numbers, so the default partitioner spreads them evenly. Without keys
/// librdkafka's sticky partitioner fills one partition at a time, some partitions outgrow what the mock keeps,
/// and a consumer waiting for all N messages waits forever: that was the 1M run's "stall".
struct BenchKafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Producer and consumer throughput against kcat on the embedded broker."
    )

    @Option(help: "Messages per side and direction.")
    var messages: Int = 1_000_000

    @Option(help: "Bytes per message value (each message also has a 10-byte key).")
    var size: Int = 200

    @Option(help: "Partitions per topic; enough that the mock keeps every message (it keeps ~5 MB per partition).")
    var partitions: Int = 128

    @Option(help: "Our producer's in-flight window (KafkaProducer inFlightLimit); kcat's counterpart is queue.buffering.max.messages (100000).")
    var inFlight: Int = 100_000

    @Option(help: "Path of the kcat executable.")
    var kcat: String = "/usr/bin/kcat"

    @Option(help: "Seconds without progress after which a phase fails, naming where it stopped.")
    var stallSeconds: Int = 30

    @Option(
        name: .customLong("property"),
        help: "A librdkafka property KEY=VALUE for both sides: our clients and every kcat run (-X); repeatable.")
    var properties: [String] = []

    /// `--property` as pairs, in order.
    private var propertyPairs: [(key: String, value: String)] {
        properties.compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }

    private static let keyLength = 10

    func validate() throws {
        guard messages > 0, size >= 12 else { throw ValidationError("--messages must be > 0 and --size >= 12") }
        guard propertyPairs.count == properties.count else {
            throw ValidationError("--property takes KEY=VALUE, got \(properties)")
        }
        guard partitions > 0, stallSeconds > 0, inFlight > 0 else {
            throw ValidationError("--partitions, --stall-seconds and --in-flight must be > 0")
        }
        guard messages < 10_000_000_000 else { throw ValidationError("--messages must have at most 10 digits") }
        guard FileManager.default.isExecutableFile(atPath: kcat) else {
            throw ValidationError("kcat not found at \(kcat): install it (apt-get install kcat) or pass --kcat PATH")
        }
        // Keys spread evenly; 70 B covers the record and batch overhead, with room for uneven partitions.
        let perPartitionBytes = (messages / partitions + 1) * (size + Self.keyLength + 70)
        guard perPartitionBytes < 4_000_000 else {
            throw ValidationError(
                "\(messages) messages of \(size) B over \(partitions) partitions exceed what the mock keeps per "
                    + "partition (~5 MB): raise --partitions")
        }
    }

    func run() async throws {
        var logger = Logger(label: "streamrec.bench.kafka")
        logger.logLevel = .warning
        let kafka = try EmbeddedKafka(brokers: 1, logger: logger)
        defer { kafka.shutdown() }
        let configuration = KafkaConfiguration(
            bootstrapServers: kafka.bootstrapServers,
            properties: Dictionary(propertyPairs, uniquingKeysWith: { _, last in last }))
        let ourTopic = "bench-streamrec"
        let kcatTopic = "bench-kcat"
        let kcatDefaultsTopic = "bench-kcat-defaults"
        for topic in [ourTopic, kcatTopic, kcatDefaultsTopic] {
            try kafka.createTopic(topic, partitions: partitions)
        }
        if !properties.isEmpty { print("both sides with \(properties.joined(separator: ", "))") }
        print("embedded broker \(kafka.bootstrapServers), \(messages) messages of \(Self.keyLength) B key + \(size) B "
            + "value, \(partitions) partitions per topic")

        // The same messages for both: key and value start with a 10-digit sequence number.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("streamrec-bench-\(getpid()).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try writeMessageFile(to: file)

        let ourProduce = try await produceWithOurs(configuration: configuration, topic: ourTopic, logger: logger)
        try await checkComplete(ourTopic, producer: "streamrec", configuration: configuration, logger: logger)
        let kcatProduce = try await timeKcat(
            "produce (idempotent)",
            ["-P", "-b", kafka.bootstrapServers, "-t", kcatTopic, "-K", "\t", "-l", file.path,
             "-X", "enable.idempotence=true"] + Self.kcatProperties(KafkaConfiguration.clientDefaults))
        try await checkComplete(kcatTopic, producer: "kcat", configuration: configuration, logger: logger)
        let kcatDefaultsProduce = try await timeKcat(
            "produce (defaults)", ["-P", "-b", kafka.bootstrapServers, "-t", kcatDefaultsTopic, "-K", "\t", "-l", file.path])
        try await checkComplete(kcatDefaultsTopic, producer: "kcat", configuration: configuration, logger: logger)
        let ourConsume = try await consumeWithOurs(configuration: configuration, topic: ourTopic, logger: logger)
        // kcat consumes with our consumer's librdkafka defaults too (-X), so both fetch alike.
        let kcatConsume = try await timeKcat(
            "consume",
            ["-C", "-b", kafka.bootstrapServers, "-t", kcatTopic, "-o", "beginning", "-e", "-q"]
                + Self.kcatProperties(KafkaConfiguration.clientDefaults.merging(KafkaConsumer.defaultProperties) { _, consumer in consumer }))

        print("")
        printRow("", "msgs/s", "MB/s", "seconds", "CPU s", "broker CPU s")
        report("produce  streamrec", ourProduce)
        report("produce  kcat", kcatProduce)
        report("produce  kcat (defaults)", kcatDefaultsProduce)
        report("consume  streamrec", ourConsume)
        report("consume  kcat", kcatConsume)
        print(String(format: "ratio produce %.2f× (%.2f× kcat's defaults), consume %.2f× (streamrec / kcat; goal ≥ 0.8)",
            kcatProduce.seconds / ourProduce.seconds, kcatDefaultsProduce.seconds / ourProduce.seconds,
            kcatConsume.seconds / ourConsume.seconds))
        print(String(format: "CPU per message, streamrec / kcat: produce %.2f×, consume %.2f× (CPU s include the in-process broker)",
            ourProduce.cpuSeconds / kcatProduce.cpuSeconds, ourConsume.cpuSeconds / kcatConsume.cpuSeconds))
        print(String(format: "client CPU per message (broker threads excluded), streamrec / kcat: produce %.2f×, consume %.2f×",
            ourProduce.clientCPUSeconds / kcatProduce.clientCPUSeconds,
            ourConsume.clientCPUSeconds / kcatConsume.clientCPUSeconds))
    }

    /// kcat's `-X KEY=VALUE` arguments, in key order.
    static func kcatProperties(_ properties: [String: String]) -> [String] {
        properties.sorted { $0.key < $1.key }.flatMap { ["-X", "\($0.key)=\($0.value)"] }
    }

    /// Wall and CPU time of one phase. CPU time is this process's (the broker runs in it) plus kcat's.
    private struct Measurement {
        var seconds: Double
        var cpuSeconds: Double
        /// The part of `cpuSeconds` spent on the embedded broker's thread, paid in every phase.
        var brokerCPUSeconds: Double
        var clientCPUSeconds: Double { cpuSeconds - brokerCPUSeconds }

        init(seconds: Double, from start: CPUTime, to end: CPUTime) {
            self.seconds = seconds
            cpuSeconds = end.total - start.total
            brokerCPUSeconds = end.broker - start.broker
        }
    }

    /// Fails unless every partition of `topic` still holds all its messages (low watermark 0, N in total): the
    /// consume phase waits for exactly N.
    private func checkComplete(
        _ topic: String, producer: String, configuration: KafkaConfiguration, logger: Logger
    ) async throws {
        let probe = try KafkaConsumer(configuration: configuration, groupID: "bench-check", logger: logger)
        var total: Int64 = 0
        var truncated: [String] = []
        for partition in 0..<partitions {
            let topicPartition = KafkaTopicPartition(topic: topic, partition: Int32(partition))
            let (low, high) = try await probe.watermarks(topicPartition)
            total += high
            if low > 0 { truncated.append("\(topicPartition) starts at offset \(low) of \(high)") }
        }
        try await probe.close()
        guard truncated.isEmpty else {
            throw ValidationError(
                "the mock dropped the oldest records of \(truncated.count) partitions (\(truncated.prefix(3).joined(separator: "; "))): "
                    + "raise --partitions")
        }
        guard total == Int64(messages) else {
            throw ValidationError("\(producer) left \(total) messages in \(topic), expected \(messages)")
        }
    }

    private func writeMessageFile(to url: URL) throws {
        var lines = Data(capacity: messages * (Self.keyLength + size + 2))
        var payload = makePayload()
        for sequence in 0..<messages {
            stamp(&payload, sequence)
            lines.append(contentsOf: payload[0..<Self.keyLength])
            lines.append(UInt8(ascii: "\t"))
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
        for index in stride(from: Self.keyLength - 1, through: 0, by: -1) {
            payload[index] = UInt8(ascii: "0") + UInt8(value % 10)
            value /= 10
        }
    }

    private func produceWithOurs(configuration: KafkaConfiguration, topic: String, logger: Logger) async throws -> Measurement {
        let producer = try KafkaProducer(configuration: configuration, inFlightLimit: inFlight, logger: logger)
        let enqueued = Progress()
        let total = messages
        var payload = makePayload()
        // Reused like kcat's line buffer: a fresh key array per message would be the bench's cost, not the client's.
        var key = [UInt8](repeating: 0, count: Self.keyLength)
        let measurement = try await watching(
            "streamrec produce",
            progress: { enqueued.value - producer.inFlightCount },
            describe: { "\(enqueued.value) of \(total) enqueued, \(producer.inFlightCount) awaiting delivery reports" }
        ) {
            try await measure {
                for sequence in 0..<messages {
                    stamp(&payload, sequence)
                    for index in 0..<Self.keyLength { key[index] = payload[index] }
                    try await producer.enqueue(topic: topic, key: key, value: payload)
                    enqueued.increment()
                }
                try await producer.flush(timeout: .seconds(Int64(stallSeconds) * 4))
            }
        }
        await producer.close()
        return measurement
    }

    private func consumeWithOurs(configuration: KafkaConfiguration, topic: String, logger: Logger) async throws -> Measurement {
        let consumer = try KafkaConsumer(configuration: configuration, groupID: "bench-\(getpid())", logger: logger)
        try consumer.subscribe(topics: [topic])
        let received = Progress()
        let total = messages
        let subscribed = ContinuousClock.now
        var start: (wall: ContinuousClock.Instant, cpu: CPUTime)?
        var bytes = 0
        var longestPoll = Duration.zero
        var longestPollAfter = 0
        let end = try await watching(
            "streamrec consume",
            progress: { received.value },
            describe: { "\(received.value) of \(total) records received, \(consumer.assignment.count) partitions assigned" }
        ) {
            while received.value < messages {
                let pollStart = ContinuousClock.now
                let events = try await consumer.poll(maxEvents: 10_000, timeout: .seconds(1))
                if start != nil, ContinuousClock.now - pollStart > longestPoll {
                    longestPoll = ContinuousClock.now - pollStart
                    longestPollAfter = received.value
                }
                for event in events {
                    switch event {
                    case .partitionsAssigned:
                        if start == nil {
                            start = (.now, CPUTime.now())
                            print("consumer group joined in \(ContinuousClock.now - subscribed) (not timed)")
                        }
                    case .record(let record):
                        received.increment()
                        // Read in place, like kcat writing the payload from librdkafka's buffer.
                        bytes += record.withUnsafeValue { $0?.count ?? 0 }
                    case .partitionsRevoked: break
                    }
                }
            }
            return (wall: ContinuousClock.now, cpu: CPUTime.now())
        }
        guard let start else { throw ValidationError("records arrived without an assignment") }
        // librdkafka 2.0.2 stops fetching once its queue holds queued.min.messages and only looks again on
        // its broker thread's next 1 s wake-up: a consumer that drains the queue faster waits here.
        print("consumer's longest wait for a batch: \(longestPoll), after \(longestPollAfter) records (timed)")
        guard bytes == messages * size else { throw ValidationError("consumed \(bytes) bytes, expected \(messages * size)") }
        try await consumer.close()
        return Measurement(seconds: (end.wall - start.wall).inSeconds, from: start.cpu, to: end.cpu)
    }

    /// Runs kcat to completion (stdout discarded) and measures it; kills it and fails if it outlasts the
    /// stall limit plus 50 µs per message (kcat's progress cannot be watched from here).
    private func timeKcat(_ phase: String, _ arguments: [String]) async throws -> Measurement {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kcat)
        process.arguments = arguments + propertyPairs.flatMap { ["-X", "\($0.key)=\($0.value)"] }
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let limit = Duration.seconds(stallSeconds) + .microseconds(50 * messages)
        let killed = Progress()
        let timer = DispatchWorkItem {
            guard process.isRunning else { return }
            killed.increment()
            process.terminate()
        }
        defer { timer.cancel() }
        DispatchQueue.global().asyncAfter(deadline: .now() + limit.inSeconds, execute: timer)
        let measurement = try await measure {
            // Resumed from Foundation's reaper once kcat has exited (never blocks the cooperative pool).
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                process.terminationHandler = { _ in continuation.resume() }
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        guard killed.value == 0 else { throw ValidationError("kcat \(phase) did not finish within \(limit): killed it") }
        guard process.terminationStatus == 0 else {
            throw ValidationError("kcat \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return measurement
    }

    private func measure(_ body: () async throws -> Void) async throws -> Measurement {
        let cpuStart = CPUTime.now()
        let start = ContinuousClock.now
        try await body()
        return Measurement(seconds: (ContinuousClock.now - start).inSeconds, from: cpuStart, to: CPUTime.now())
    }

    /// Runs `body` while a watchdog checks `progress` every second. When it has not moved for `--stall-seconds`,
    /// prints where the phase stopped and exits: a client stuck in a wait cannot be cancelled out of it.
    private func watching<T: Sendable>(
        _ phase: String, progress: @escaping @Sendable () -> Int, describe: @escaping @Sendable () -> String,
        _ body: () async throws -> T
    ) async throws -> T {
        let limit = stallSeconds
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var last = progress()
                var idleSeconds = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    let now = progress()
                    idleSeconds = now == last ? idleSeconds + 1 : 0
                    last = now
                    if idleSeconds >= limit, !Task.isCancelled {
                        FileHandle.standardError.write(
                            Data("bench kafka: \(phase) stalled, no progress for \(limit) s: \(describe())\n".utf8))
                        Foundation.exit(2)
                    }
                }
            }
            let result = try await body()
            group.cancelAll()
            return result
        }
    }

    private func report(_ label: String, _ measurement: Measurement) {
        let rate = Double(messages) / measurement.seconds
        printRow(label, String(format: "%.0f", rate), String(format: "%.1f", rate * Double(size) / 1_000_000),
            String(format: "%.2f", measurement.seconds), String(format: "%.2f", measurement.cpuSeconds),
            String(format: "%.2f", measurement.brokerCPUSeconds))
    }

    private func printRow(_ columns: String...) {
        print(columns.enumerated().map { $0.offset == 0 ? $0.element.padding(toLength: 26, withPad: " ", startingAt: 0)
            : String(repeating: " ", count: max(1, 14 - $0.element.count)) + $0.element }.joined())
    }
}

/// CPU seconds so far: this process's and its waited-for children's (kcat), and of that the embedded broker's
/// thread's (librdkafka's mock cluster runs on one thread named `rdk:mock`).
private struct CPUTime {
    var total: Double
    var broker: Double

    static func now() -> CPUTime {
        var own = rusage()
        var children = rusage()
        getrusage(RUSAGE_SELF.rawValue, &own)
        getrusage(RUSAGE_CHILDREN.rawValue, &children)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        let total = seconds(own.ru_utime) + seconds(own.ru_stime) + seconds(children.ru_utime) + seconds(children.ru_stime)
        return CPUTime(total: total, broker: brokerThreadSeconds())
    }

    /// utime + stime of this process's `rdk:mock` threads, from /proc (clock-tick resolution).
    private static func brokerThreadSeconds() -> Double {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        var ticks = 0
        for task in tasks {
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                comm.hasPrefix("rdk:mock"),
                let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                let nameEnd = stat.lastIndex(of: ")")
            else { continue }
            // After "pid (comm)": state is field 3, utime 14 and stime 15.
            let fields = stat[stat.index(after: nameEnd)...].split(separator: " ")
            guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { continue }
            ticks += user + system
        }
        return Double(ticks) / ticksPerSecond
    }
}

/// A counter the measured loop bumps and the watchdog reads.
private final class Progress: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func increment() { count.add(1, ordering: .relaxed) }
}

extension Duration {
    fileprivate var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
