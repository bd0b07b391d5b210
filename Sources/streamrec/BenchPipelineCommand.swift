import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import StreamRecKafka
import StreamRecService
import Synchronization

/// `streamrec bench pipeline`: `serve` (a child process, so its memory is its own) against a bare
/// consume→produce pass-through with the same librdkafka defaults, both fed the same events while they
/// run (the embedded broker keeps only a few MB per partition); then event→recommendation latency at a
/// steady rate, and the service's RSS as events grow.
struct BenchPipelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Throughput of serve vs a pass-through, latency at a steady rate, RSS.")

    @Option(help: "Events per throughput run.")
    var events = 1_000_000

    @Option(help: "Input partitions.")
    var partitions = 12

    @Option(help: "Distinct users in the generated sessions.")
    var users = 100_000

    @Option(help: "Events per second for the latency run.")
    var latencyRate = 5_000.0

    @Option(help: "Seconds of the latency run.")
    var latencySeconds = 20.0

    @Option(help: "Fail a throughput run when no event is consumed for this many seconds.")
    var stallSeconds = 60.0

    @Option(help: ArgumentHelp(
        "Kafka bootstrap servers HOST:PORT,... to run against instead of an embedded broker (serve gets the same).",
        discussion: """
            The run's topics, bench-RUNID-*, are created there with the partitions the run needs. A cluster that \
            cannot create topics (`streamrec broker`) needs them made first: the error says how.
            """))
    var brokers: String?

    @Option(help: "Names the run's topics and groups bench-RUNID-* (default: a new random id).")
    var runID: String?

    @Option(help: "Process id of the --brokers broker, if on this machine: its CPU in the latency run is reported.")
    var brokerPID: Int32?

    @Option(
        name: .customLong("kafka-property"),
        help: "A librdkafka property KEY=VALUE for every client of the run, serve's included (repeatable); fetch.wait.max.ms defaults to serve's 10.")
    var kafkaProperties: [String] = []

    func validate() throws {
        for property in kafkaProperties where !property.contains("=") {
            throw ValidationError("--kafka-property \(property): expected KEY=VALUE, such as fetch.wait.max.ms=10")
        }
        for server in brokers?.split(separator: ",", omittingEmptySubsequences: false) ?? [] {
            guard let colon = server.lastIndex(of: ":"), colon != server.startIndex,
                let port = Int(server[server.index(after: colon)...]), (1...65535).contains(port)
            else { throw ValidationError("--brokers: '\(server)' is not HOST:PORT, such as localhost:9092") }
        }
        // Kafka's topic-name characters; the longest name adds 18 to the id, within Kafka's 249.
        if let runID, runID.isEmpty || runID.count > 200 || !runID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) {
            throw ValidationError("--run-id '\(runID)': use 1–200 of a–z, A–Z, 0–9, '.', '_', '-'")
        }
        if brokerPID != nil, brokers == nil {
            throw ValidationError("--broker-pid needs --brokers: without it the broker runs inside the benchmark")
        }
    }

    /// `--kafka-property` values by key, over serve's own `fetch.wait.max.ms`: the run's other consumers (the
    /// pass-through's, the latency reader) fetch like serve does instead of with librdkafka's 500 ms, which
    /// on the embedded broker (it holds an empty fetch that long) would add ~250 ms to every latency.
    var properties: [String: String] {
        let given = Dictionary(kafkaProperties.map { property in
            let parts = property.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }) { _, last in last }
        return ["fetch.wait.max.ms": StreamingPipeline.defaultFetchWaitMilliseconds].merging(given) { _, given in given }
    }

    func run() async throws {
        let interruptHandlers = ServeChild.stopAllOnInterrupt()
        defer { interruptHandlers.forEach { $0.cancel() } }
        do {
            try await runPhases()
        } catch {
            // An interrupt stops the children, so what fails next is its doing: its handler exits with 128 + the
            // signal once they are gone, which an exit here with this error would pre-empt.
            while ServeChild.isInterrupted { try? await Task.sleep(for: .seconds(1)) }
            throw error
        }
    }

    private func runPhases() async throws {
        let logger = CommandLogging.bootstrap(level: "error", label: "streamrec.bench")
        let embedded: EmbeddedKafka?
        let bootstrapServers: String
        if let brokers {
            (embedded, bootstrapServers) = (nil, brokers)
        } else {
            let broker = try EmbeddedKafka(logger: logger)
            (embedded, bootstrapServers) = (broker, broker.bootstrapServers)
        }
        defer { embedded?.shutdown() }
        let kafka = KafkaConfiguration(bootstrapServers: bootstrapServers, properties: properties)
        let topics = BenchTopics(runID: runID ?? String(UInt32.random(in: .min ... .max), radix: 36), partitions: partitions)
        try await topics.prepare(admin: KafkaAdmin(configuration: kafka, logger: logger))
        log("cluster: \(brokers.map { "external, \($0)" } ?? "embedded") · topics \(topics.name("*"))")

        log("generating \(events) events for \(users) users…")
        var generator = SessionGenerator.benchShop(users: users)
        let payload: [(key: [UInt8], value: [UInt8])] = (generator.catalogueEvents() + (0..<events).map { _ in generator.next() })
            .prefix(events).map { (Array(($0.userID ?? $0.itemID ?? "").utf8), $0.jsonBytes()) }

        // 1. Pass-through.
        let passThroughSeconds = try await measure(payload: payload, topic: topics.passIn, kafka: kafka, logger: logger) { progress in
            let consumer = try KafkaConsumer(configuration: kafka, groupID: topics.name("pass"), logger: logger)
            // Produces as serve's output producer does ("the same librdkafka settings"); the feeder, the shop's
            // producer, keeps librdkafka's defaults.
            let producer = try KafkaProducer(
                configuration: StreamingPipeline.outputProducerConfiguration(kafka), logger: logger)
            try consumer.subscribe(topics: [topics.passIn])
            var count = 0
            while count < payload.count {
                try Task.checkCancellation()
                for case .record(let record) in try await consumer.poll(maxEvents: 2000, timeout: .milliseconds(100)) {
                    try await producer.enqueue(topic: topics.passOut, key: record.key, value: record.value)
                    count += 1
                }
                progress.store(count)
            }
            try await producer.flush(timeout: .seconds(60))
            await producer.close()
            try await consumer.close()
        }
        log(String(format: "pass-through: %.1f s, %.0f events/s", passThroughSeconds, Double(events) / passThroughSeconds))

        // 2. serve, as a child process.
        let service = try ServeChild(
            brokers: bootstrapServers, input: topics.serveIn, output: topics.serveOut, deadLetters: topics.deadLetters,
            properties: properties)
        defer { service.stop() }
        let port = try await service.httpPort()
        let rssSamples = Mutex<[(events: Int, megabytes: Double)]>([])
        let serveStarted = ContinuousClock.now
        let allConsumedAt = Mutex<(seconds: Double, cpuSeconds: Double, published: Int)?>(nil)
        let cpuBefore = service.cpuSeconds()
        let serveSeconds = try await measure(payload: payload, topic: topics.serveIn, kafka: kafka, logger: logger) { progress in
            var nextSample = payload.count / 4
            var previous: ServeProgress?
            while true {
                let current = try await Self.serveProgress(port: port)
                progress.store(current.consumed)
                if current.published != previous?.published { progress.noteActivity() }
                if current.consumed >= nextSample {
                    let megabytes = service.residentMegabytes()
                    rssSamples.withLock { $0.append((current.consumed, megabytes)) }
                    nextSample += payload.count / 4
                }
                if current.consumed >= payload.count, allConsumedAt.withLock({ $0 }) == nil {
                    let consumedAt = (
                        Self.seconds(ContinuousClock.now - serveStarted), service.cpuSeconds() - cpuBefore, current.published)
                    allConsumedAt.withLock { $0 = consumedAt }
                }
                // Done once every recommendation the events imply is delivered: nothing owed, nothing in
                // flight, on two scrapes in a row with the same published count (the gauges are separate
                // reads of a moving loop).
                if let previous, previous.isDone(events: payload.count), current.isDone(events: payload.count),
                    current.published == previous.published
                {
                    return
                }
                previous = current
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let serveCPUSeconds = service.cpuSeconds() - cpuBefore
        let published = try await Self.serveProgress(port: port).published
        log(String(format: "serve: %.1f s, %.0f events/s (%.2f× pass-through), %.1f CPU s in serve (%.0f µs per event), %d recommendations published", serveSeconds, Double(events) / serveSeconds, passThroughSeconds / serveSeconds, serveCPUSeconds, serveCPUSeconds / Double(events) * 1e6, published))
        if let consumedAt = allConsumedAt.withLock({ $0 }) {
            // Recommendations published meanwhile (whenever `serve` caught up) are part of that CPU: say how many.
            log(String(format: "  (every event applied after %.1f s, %.1f CPU s, %d recommendations published by then; the rest is publishing what was owed)", consumedAt.seconds, consumedAt.cpuSeconds, consumedAt.published))
        }
        for sample in rssSamples.withLock({ $0 }) { log(String(format: "serve RSS after %d events: %.0f MB", sample.events, sample.megabytes)) }
        service.stop()

        // 3. Latency at a steady rate: event time = send time; latency = arrival of the recommendation.
        let latencyService = try ServeChild(
            brokers: bootstrapServers, input: topics.latencyIn, output: topics.latencyOut,
            deadLetters: topics.deadLetters, properties: properties)
        defer { latencyService.stop() }
        // Latency is measured from the moment both ends are in their groups: the ~3 s joins are not latency.
        let latencyPort = try await latencyService.httpPort()
        try await Self.waitUntilReady(port: latencyPort)
        let latencyCPUBefore = latencyService.cpuSeconds()
        let benchCPUBefore = processCPUSeconds(getpid())
        let brokerCPUBefore = brokerPID.flatMap(processCPUSeconds)
        let samples = try await measureLatency(kafka: kafka, topics: topics, logger: logger)
        let latencyCPUSeconds = latencyService.cpuSeconds() - latencyCPUBefore
        let benchCPUSeconds = processCPUSeconds(getpid()).flatMap { now in benchCPUBefore.map { now - $0 } }
        let brokerCPUSeconds = brokerPID.flatMap(processCPUSeconds).flatMap { now in brokerCPUBefore.map { now - $0 } }
        // serve's own view (record timestamp → message handed to its producer) tells a slow serve from a
        // slow delivery or reader.
        let serveSide = try await Self.histogram(port: latencyPort, name: "streamrec_event_to_publish_latency_seconds")
        // Checkpoints run beside the loop (encode, wait for output, write): their CPU competes with it.
        let checkpointWrites = try await Self.histogram(port: latencyPort, name: "streamrec_checkpoint_write_duration_seconds")
        latencyService.stop()
        if let (p50, p99) = Self.percentiles(samples.map(\.milliseconds)) {
            log(String(format: "latency at %.0f events/s: p50 %.1f ms, p99 %.1f ms (%d recommendation messages; %.1f CPU s in serve)", latencyRate, p50, p99, samples.count, latencyCPUSeconds))
        }
        if let (p50, p99) = Self.percentiles(samples.map(\.serveMilliseconds)) {
            log(String(format: "  of which in serve (event time → generated_at, both wall clocks): p50 %.0f ms, p99 %.0f ms", p50, p99))
        }
        if let (recommendP50, recommendP99) = Self.percentiles(samples.map(\.recommendMilliseconds)),
            let (deliveryP50, deliveryP99) = Self.percentiles(samples.map(\.deliveryMilliseconds))
        {
            log(String(format: "  then generated_at → producer p50 %.0f ms, p99 %.0f ms; producer → reader p50 %.0f ms, p99 %.0f ms", recommendP50, recommendP99, deliveryP50, deliveryP99))
        }
        // Who else used the two cores meanwhile: this process sends, reads and (embedded) runs the broker.
        if let benchCPUSeconds {
            let inside = embedded == nil ? "feeder + reader" : "feeder + reader + embedded broker"
            let broker = brokerCPUSeconds.map { String(format: ", %.1f CPU s in the broker process", $0) } ?? ""
            log(String(format: "  CPU meanwhile: %.1f s in this process (%@)%@", benchCPUSeconds, inside, broker))
        }
        if let total = serveSide.last?.count, total > 0 {
            let shares = serveSide.filter { [0.01, 0.05, 0.1, 0.5, 1].contains($0.bound) }
                .map { String(format: "%.1f %% ≤ %.0f ms", 100 * Double($0.count) / Double(total), $0.bound * 1000) }
            log("  serve's own event → publish (\(total)): " + shares.joined(separator: ", "))
        }
        if let written = checkpointWrites.last?.count {
            let slowest = checkpointWrites.first { $0.count == written }?.bound ?? .infinity
            log(String(format: "  checkpoints written meanwhile: %d, each within %.0f ms (encode + wait for output + write)", written, slowest * 1000))
        }
        // By the second the event was sent in, so a stall or a warm-up shows where it happened: the first
        // 5 s by the second, then by 5 s.
        let windows = Array(stride(from: 0.0, to: min(5, latencySeconds), by: 1).map { ($0, 1.0) })
            + Array(stride(from: 5.0, to: latencySeconds, by: 5).map { ($0, 5.0) })
        for (window, length) in windows {
            let inWindow = samples.filter { $0.sentAtSeconds >= window && $0.sentAtSeconds < window + length }
            guard let (p50, p99) = Self.percentiles(inWindow.map(\.milliseconds)),
                let (serveP50, serveP99) = Self.percentiles(inWindow.map(\.serveMilliseconds)),
                let (_, recommendP99) = Self.percentiles(inWindow.map(\.recommendMilliseconds)),
                let (_, deliveryP99) = Self.percentiles(inWindow.map(\.deliveryMilliseconds))
            else { continue }
            log(String(format: "  events sent in %.0f–%.0f s: p50 %.1f ms, p99 %.1f ms (%d); in serve (event time → generated_at) p50 %.0f ms, p99 %.0f ms; p99 generated_at → producer %.0f ms, producer → reader %.0f ms", window, window + length, p50, p99, inWindow.count, serveP50, serveP99, recommendP99, deliveryP99))
        }
    }

    /// One recommendation message's way, in wall-clock milliseconds: event time (the feeder's send) →
    /// `generated_at` (serve took the batch) → record create time (its producer took the message) → arrival.
    struct LatencySample {
        var sentAtSeconds: Double
        var milliseconds: Double
        var serveMilliseconds: Double
        var recommendMilliseconds: Double
        var deliveryMilliseconds: Double
    }

    static func percentiles(_ values: [Double]) -> (p50: Double, p99: Double)? {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return nil }
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
    }

    func log(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

    /// Feeds `payload` into `topic` no further than 150k events ahead of what `consume` reports done,
    /// while `consume` runs; returns the seconds until `consume` returns.
    ///
    /// - Throws: ``BenchStallError`` when nothing more is consumed for `--stall-seconds` (the embedded
    ///   broker drops the oldest records of a partition beyond ~4–5 MB, so they never arrive), after
    ///   cancelling `consume`, which must end on cancellation.
    func measure(
        payload: [(key: [UInt8], value: [UInt8])], topic: String, kafka: KafkaConfiguration, logger: Logger,
        consume: @escaping @Sendable (ProgressBox) async throws -> Void
    ) async throws -> Double {
        let progress = ProgressBox()
        let producer = try KafkaProducer(configuration: kafka, logger: logger)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Also on failure, so the feeder stops and `waitForAll` reports the failure.
                defer { progress.finish() }
                try await consume(progress)
            }
            var sent = 0
            while !progress.isFinished {
                if sent == payload.count || sent - progress.load() > 150_000 {
                    if progress.secondsSinceChange > stallSeconds {
                        group.cancelAll()
                        throw BenchStallError(
                            topic: topic, consumed: progress.load(), sent: sent, seconds: stallSeconds,
                            isEmbedded: brokers == nil)
                    }
                    try await Task.sleep(for: .milliseconds(5))
                    continue
                }
                let message = payload[sent]
                try await producer.enqueue(topic: topic, key: message.key, value: message.value)
                sent += 1
            }
            try await group.waitForAll()
        }
        await producer.close()
        return Self.seconds(ContinuousClock.now - started)
    }

    /// Event → recommendation latencies, with the send time of the event (seconds into the run).
    func measureLatency(kafka: KafkaConfiguration, topics: BenchTopics, logger: Logger) async throws
        -> [LatencySample]
    {
        let producer = try KafkaProducer(configuration: kafka, logger: logger)
        let consumer = try KafkaConsumer(configuration: kafka, groupID: topics.name("latency-reader"), logger: logger)
        try consumer.subscribe(topics: [topics.latencyOut])
        let joinDeadline = ContinuousClock.now + .seconds(60)
        while consumer.assignment.isEmpty {
            guard ContinuousClock.now < joinDeadline else { throw ValidationError("the latency reader did not join its group in 60 s") }
            _ = try await consumer.poll(maxEvents: 1, timeout: .milliseconds(100))
        }
        // The reader's partitions look up where to start (committed offset, then the log start) after the
        // assignment; until then the first recommendations wait in the broker, ~100 ms of p99 in the first
        // second that serve's own timestamps do not show. A second of polling lets the reader settle.
        let settled = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < settled { _ = try await consumer.poll(maxEvents: 1, timeout: .milliseconds(100)) }
        var generator = SessionGenerator(seed: 11, users: users, startMilliseconds: 0)
        let total = Int(latencyRate * latencySeconds)
        let started = ContinuousClock.now
        let startedWallMilliseconds = Self.wallMilliseconds()
        var sent = 0
        var latencies: [LatencySample] = []
        while sent < total || ContinuousClock.now - started < .seconds(latencySeconds + 5) {
            // Send what is due, then read what arrived.
            while sent < total, ContinuousClock.now - started >= .seconds(Double(sent) / latencyRate) {
                var event = generator.next()
                event.timestamp = Self.wallMilliseconds()
                try await producer.enqueue(topic: topics.latencyIn, key: Array((event.userID ?? "").utf8), value: event.jsonBytes())
                sent += 1
            }
            for case .record(let record) in try await consumer.poll(maxEvents: 1000, timeout: .milliseconds(1)) {
                guard let value = record.value, let eventTime = Self.integer(named: "event_time", in: value),
                    let generatedAt = Self.integer(named: "generated_at", in: value)
                else { continue }
                let arrived = Self.wallMilliseconds()
                // The record's create time is when serve's producer took the message (librdkafka stamps it).
                let produced = record.timestampMilliseconds ?? arrived
                latencies.append(LatencySample(
                    sentAtSeconds: Double(eventTime - startedWallMilliseconds) / 1000,
                    milliseconds: Double(arrived - eventTime), serveMilliseconds: Double(generatedAt - eventTime),
                    recommendMilliseconds: Double(produced - generatedAt), deliveryMilliseconds: Double(arrived - produced)))
            }
        }
        await producer.close()
        try await consumer.close()
        return latencies
    }

    /// An integer field (`event_time`, `generated_at`) of a recommendation message, read without decoding
    /// the whole message (the reader must keep up with the rate it measures; a full `JSONDecoder` decode per
    /// message did not).
    static func integer(named name: String, in message: [UInt8]) -> Int64? {
        let key = Array("\"\(name)\":".utf8)
        guard let start = message.indices.first(where: { message[$0...].starts(with: key) }) else { return nil }
        let digits = message[(start + key.count)...].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return Int64(String(decoding: digits, as: UTF8.self))
    }

    /// Waits until serve's `/readyz` answers 200 (partitions assigned).
    static func waitUntilReady(port: Int) async throws {
        for _ in 0..<600 {
            let response = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/readyz")!).1
            if (response as? HTTPURLResponse)?.statusCode == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("serve was not ready (partitions assigned) within 60 s")
    }

    /// A Prometheus histogram's cumulative buckets (upper bound in seconds, count), `+Inf` last.
    static func histogram(port: Int, name: String) async throws -> [(bound: Double, count: Int)] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard line.hasPrefix(name + "_bucket{"), let start = line.range(of: "le=\""),
                let end = line[start.upperBound...].firstIndex(of: "\""),
                let count = line.split(separator: " ").last.flatMap({ Double($0) })
            else { return nil }
            let bound = line[start.upperBound..<end]
            return (bound == "+Inf" ? .infinity : Double(bound) ?? .nan, Int(count))
        }.sorted { $0.bound < $1.bound }
    }

    /// What serve's `/metrics` says about its progress.
    struct ServeProgress {
        /// Events applied + dead letters + duplicates.
        var consumed: Int
        var published: Int
        /// Users whose recommendation is still owed (coalesced while behind).
        var pending: Int
        var inFlight: Int

        func isDone(events: Int) -> Bool { consumed >= events && pending == 0 && inFlight == 0 }
    }

    static func serveProgress(port: Int) async throws -> ServeProgress {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        func sum(_ prefixes: String...) -> Int {
            lines.filter { line in prefixes.contains { line.hasPrefix($0) } }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
                .reduce(0) { $0 + Int($1) }
        }
        return ServeProgress(
            consumed: sum("streamrec_events_consumed_total{", "streamrec_dead_letters_total ", "streamrec_duplicate_events_total "),
            published: sum("streamrec_recommendations_published_total "),
            pending: sum("streamrec_pending_refreshes "),
            inFlight: sum("streamrec_producer_in_flight_messages "))
    }

    static func wallMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// The consumer side's progress, read by the feeder.
final class ProgressBox: Sendable {
    private struct State {
        var count = 0
        var changed = ContinuousClock.now
        var isFinished = false
    }
    private let state = Mutex(State())

    func store(_ newValue: Int) {
        state.withLock { state in
            if newValue != state.count { state.changed = ContinuousClock.now }
            state.count = newValue
        }
    }
    func load() -> Int { state.withLock { $0.count } }
    /// Progress other than the count (serve publishing what it owes), so the stall watchdog waits.
    func noteActivity() { state.withLock { $0.changed = ContinuousClock.now } }
    func finish() { state.withLock { $0.isFinished = true } }
    var isFinished: Bool { state.withLock { $0.isFinished } }
    var secondsSinceChange: Double { BenchPipelineCommand.seconds(ContinuousClock.now - state.withLock { $0.changed }) }
}

/// A throughput run that stopped making progress: records were lost or the consumer is stuck.
struct BenchStallError: Error, CustomStringConvertible {
    let topic: String
    let consumed: Int
    let sent: Int
    let seconds: Double
    /// Only the embedded broker drops records a consumer has not reached.
    let isEmbedded: Bool

    var description: String {
        let stalled = "\(topic): nothing consumed for \(Int(seconds)) s at \(consumed) of \(sent) events sent."
        guard isEmbedded else { return stalled + " A Kafka cluster keeps the records: check that serve and the cluster are up." }
        return stalled + " The embedded broker "
            + "keeps only the last ~4–5 MB per partition, so records the consumer had not reached yet may have "
            + "been dropped: use more --partitions or fewer --events, or a quieter machine."
    }
}

/// User + system CPU seconds of a process so far (`/proc/PID/stat` fields 14 and 15, in clock ticks); `nil`
/// when it is not there to read (another OS, or the process is gone).
func processCPUSeconds(_ pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        // Fields after the command name, which is in parentheses and may hold spaces.
        let close = stat.lastIndex(of: ")")
    else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// `streamrec serve` as a child of the benchmark.
final class ServeChild: @unchecked Sendable {
    let process = Process()
    /// Children started and not yet stopped, for ``stopAllOnInterrupt()``.
    private static let running = Mutex<[ObjectIdentifier: ServeChild]>([:])
    private static let interrupted = Atomic<Bool>(false)
    /// Whether ``stopAllOnInterrupt()``'s handler is stopping the children (it then exits the process).
    static var isInterrupted: Bool { interrupted.load(ordering: .relaxed) }
    let logPath = NSTemporaryDirectory() + "streamrec-bench-\(UUID().uuidString).log"
    let stateDirectory = NSTemporaryDirectory() + "streamrec-bench-state-\(UUID().uuidString)"

    var configPath: String { stateDirectory + ".yaml" }

    /// - Parameter properties: librdkafka properties, passed in a configuration file (`kafka.properties`).
    init(brokers: String, input: String, output: String, deadLetters: String, properties: [String: String]) throws {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let quoted = { (text: String) in "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        let yaml = properties.isEmpty ? "kafka:\n  properties: {}\n" : "kafka:\n  properties:\n" + properties.sorted { $0.key < $1.key }
            .map { "    \(quoted($0.key)): \(quoted($0.value))\n" }.joined()
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0])
        process.arguments = [
            "serve", "--brokers", brokers, "--input-topic", input, "--output-topic", output, "--dlq-topic", deadLetters,
            "--group", "\(input)-group", "--state-dir", stateDirectory, "--http-port", "0", "--config", configPath,
        ]
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        Self.running.withLock { $0[ObjectIdentifier(self)] = self }
    }

    /// On SIGINT or SIGTERM, stops every running child (a `serve` left behind would go on using a core), then
    /// exits with 128 + the signal's number. The handlers work while the returned sources are alive.
    static func stopAllOnInterrupt() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                interrupted.store(true, ordering: .relaxed)
                for child in running.withLock({ Array($0.values) }) { child.stop() }
                exit(128 + number)
            }
            source.resume()
            return source
        }
    }

    func httpPort() async throws -> Int {
        for _ in 0..<600 {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let range = log.range(of: #"streamrec.address=[0-9.]+:([0-9]+)"#, options: .regularExpression),
                let port = log[range].split(separator: ":").last.flatMap({ Int($0) })
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("serve did not start; see \(logPath)")
    }

    func cpuSeconds() -> Double { processCPUSeconds(process.processIdentifier) ?? 0 }

    func residentMegabytes() -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0) / 1024
    }

    func stop() {
        Self.running.withLock { $0[ObjectIdentifier(self)] = nil }
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: stateDirectory)
        try? FileManager.default.removeItem(atPath: configPath)
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

extension SessionGenerator {
    /// The shop `bench pipeline` feeds (and `bench engine --shop-sessions` replays): 6 × 2,000 items.
    static func benchShop(users: Int, seed: UInt64 = 7) -> SessionGenerator {
        SessionGenerator(seed: seed, users: users, itemsPerCategory: 2_000, startMilliseconds: 1_732_550_400_000)
    }
}
