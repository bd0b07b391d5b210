import ArgumentParser
import Foundation
import StreamRecEngine
import StreamRecService

/// `streamrec bench engine`: apply throughput, recommend latency and memory on a synthetic Zipf stream.
struct EngineBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Engine throughput, recommend latency and memory on synthetic Zipf-distributed events.",
        discussion: """
            Users arrive uniformly at random and browse sessions of 2–8 events; a session's first item is drawn \
            from a Zipf distribution over the catalogue and the rest stay near it (so items co-occur); 5 % of \
            sessions start with a search from a Zipf-distributed query vocabulary; every item gets a metadata \
            event first. Events are generated outside the timed region; one core, one engine. With \
            --shop-sessions the events are `bench pipeline`'s instead (see that option).
            """
    )

    @Option(help: "Distinct users.") var users = 1_000_000
    @Option(help: "Distinct items.") var items = 100_000
    @Option(help: "Behaviour and search events to apply.") var events = 8_000_000
    @Option(help: "Zipf exponent of item popularity.") var zipf = 1.0
    @Option(help: "Recommend calls to time.") var recommendations = 20_000
    @Option(help: "Users per batched recommend call (the service's way: one call per slice of a batch's users).")
    var recommendBatch = 250
    @Option(help: "PRNG seed.") var seed: UInt64 = 1
    @Option(help: "YAML engine configuration (as for evaluate); absent keys keep their defaults.") var config: String?
    @Flag(help: """
        Feed `bench pipeline`'s events instead (`streamrec demo`'s shop sessions, seed 7: 6 categories of 2,000 \
        items with near-identical titles, 12,000 in all; catalogue first), so recommend is \
        timed on the catalogue `serve` sees there without Kafka; --items, --zipf and --seed are then unused.
        """)
    var shopSessions = false

    func validate() throws {
        guard users > 0, items > 0, events > 0, recommendations > 0, recommendBatch > 0 else {
            throw ValidationError("--users, --items, --events, --recommendations and --recommend-batch must be positive")
        }
    }

    func run() throws {
        if shopSessions {
            var generator = ShopSessionStream(users: users, seed: 7)
            print("streamrec bench engine: \(users) users, \(events) events of bench pipeline's shop sessions")
            try run(&generator) { ShopSessionStream(users: users, seed: 99) }
        } else {
            var generator = SyntheticStream(users: users, items: items, zipf: zipf, seed: seed)
            print("streamrec bench engine: \(users) users, \(items) items, \(events) events, zipf \(zipf), seed \(seed)")
            try run(&generator) { SyntheticStream(users: users, items: items, zipf: zipf, seed: seed &+ 99) }
        }
    }

    /// - Parameter decodeSample: another stream of the same kind, whose JSON lines time the decoder.
    private func run<Stream: BenchEventStream>(_ generator: inout Stream, decodeSample: () -> Stream) throws {
        var configuration = try config.map(EngineConfigurationFile.loadForCommand) ?? EngineConfiguration()
        configuration.capacity.maxUsers = max(configuration.capacity.maxUsers, users)
        var engine = RecommendationEngine(configuration: configuration)
        let clock = ContinuousClock()
        let baseline = ResidentMemory.bytes()

        // Decoding: JSON lines of the same kind of stream, decoded by the hot-path decoder.
        var sample = decodeSample()
        let lines = (0..<200_000).map { _ in sample.nextJSONLine() }
        let totalBytes = lines.reduce(0) { $0 + $1.count }
        var decoded = 0
        let decodeTime = clock.measure {
            for line in lines where (try? EventDecoder.decode(line)) != nil { decoded += 1 }
        }
        print(String(format: "decode      %.0f events/s (%.0f MB/s, %d-byte events on average)",
                     Double(decoded) / decodeTime.seconds, Double(totalBytes) / decodeTime.seconds / 1e6,
                     totalBytes / lines.count))

        var applyTime = Duration.zero
        var applyCPUSeconds = 0.0
        let metadata = generator.metadataEvents()
        applyCPUSeconds += ThreadCPUClock.measure {
            applyTime += clock.measure { for event in metadata { engine.apply(event) } }
        }
        print("events     apply/s wall  apply/s CPU     users     items   est. B/user  est. B/item  RSS MB")
        let batch = 250_000
        var applied = 0
        while applied < events {
            let count = min(batch, events - applied)
            let chunk = (0..<count).map { _ in generator.nextEvent() }
            applyCPUSeconds += ThreadCPUClock.measure {
                applyTime += clock.measure { for event in chunk { engine.apply(event) } }
            }
            applied += count
            if applied % 1_000_000 == 0 || applied == events {
                let memory = engine.estimatedMemory()
                print(String(format: "%8d  %12.0f  %11.0f  %8d  %8d  %11.0f  %11.0f  %6.0f",
                              applied, Double(applied + metadata.count) / applyTime.seconds,
                              Double(applied + metadata.count) / applyCPUSeconds, engine.userCount,
                              engine.itemCount, Double(memory.userBytes + memory.sessionBytes) / Double(max(engine.userCount, 1)),
                              Double(memory.itemBytes + memory.indexBytes) / Double(max(engine.itemCount, 1)),
                              Double(ResidentMemory.bytes() - baseline) / 1e6))
            }
        }

        var latencies: [Double] = []
        var cpuLatencies: [Double] = []
        latencies.reserveCapacity(recommendations)
        var returned = 0
        // Every list returned below, folded in order: equal digests = the same ids, scores and reasons.
        var digest = RecommendationDigest()
        for user in generator.recentUsers(recommendations) {
            var list: [Recommendation] = []
            cpuLatencies.append(ThreadCPUClock.measure {
                latencies.append(clock.measure { list = engine.recommend(userID: user, k: 20) }.seconds)
            })
            returned += list.count
            digest.add(list)
        }
        let meanCPU = cpuLatencies.reduce(0, +) / Double(cpuLatencies.count)
        // The same number of users again, through `recommend(userIDs:k:filters:)` in slices like `serve` does.
        let batchUsers = generator.recentUsers(recommendations)
        var batchCPUSeconds = 0.0
        var batchItems = 0
        for start in stride(from: 0, to: batchUsers.count, by: recommendBatch) {
            let slice = batchUsers[start..<min(start + recommendBatch, batchUsers.count)]
            var lists: [[Recommendation]] = []
            batchCPUSeconds += ThreadCPUClock.measure {
                lists = engine.recommend(userIDs: slice, k: 20, filters: RecommendationFilters())
            }
            batchItems += lists.reduce(0) { $0 + $1.count }
            lists.forEach { digest.add($0) }
        }
        latencies.sort()
        cpuLatencies.sort()
        func percentile(_ p: Double, _ values: [Double] = latencies) -> Double {
            values[min(values.count - 1, Int(Double(values.count) * p))] * 1000
        }
        print(String(format: "recommend   top-20 CPU mean %.1f µs per call; batched in slices of %d users: %.1f µs CPU per user (%.1f items/list)",
                     meanCPU * 1e6, recommendBatch, batchCPUSeconds / Double(batchUsers.count) * 1e6,
                     Double(batchItems) / Double(batchUsers.count)))
        print(String(format: "recommend   digest %016llx of all %d lists (ids, score bits, reasons)", digest.value,
                     latencies.count + batchUsers.count))
        let memory = engine.estimatedMemory()
        let rss = ResidentMemory.bytes() - baseline
        let total = Double(applied + metadata.count)
        print(String(format: "apply       %.0f events/s wall, %.0f events/s per CPU second (%d events incl. %d item metadata)",
                     total / applyTime.seconds, total / applyCPUSeconds, applied + metadata.count, metadata.count))
        print(String(format: "recommend   top-20 wall p50 %.3f ms, p99 %.3f ms, max %.3f ms; CPU p50 %.3f ms, p99 %.3f ms; %d users (%.1f items/list)",
                     percentile(0.5), percentile(0.99), latencies.last! * 1000, percentile(0.5, cpuLatencies),
                     percentile(0.99, cpuLatencies), latencies.count, Double(returned) / Double(latencies.count)))
        print(String(format: "memory      structures %.0f MB: users %.0f B/user (with sessions %.0f), items %.0f B/item (with index %.0f), queries %.1f MB",
                     Double(memory.totalBytes) / 1e6, Double(memory.userBytes) / Double(engine.userCount),
                     Double(memory.userBytes + memory.sessionBytes) / Double(engine.userCount),
                     Double(memory.itemBytes) / Double(engine.itemCount),
                     Double(memory.itemBytes + memory.indexBytes) / Double(engine.itemCount), Double(memory.queryBytes) / 1e6))
        print(String(format: "memory      RSS growth %.0f MB = %.0f B per (user + item / 10) — from /proc/self/statm",
                     Double(rss) / 1e6, Double(rss) / Double(engine.userCount + engine.itemCount / 10)))
        measureSnapshot(engine)
        measureCopyStall(&engine, generator: &generator)
    }

    /// What a checkpoint's encoding costs (`serve` snapshots on its writer thread); the digest compares builds.
    private func measureSnapshot(_ engine: RecommendationEngine) {
        var bytes = engine.snapshot()
        // The second time with the first's size reserved, as serve's checkpoints after its first one.
        let seconds = ThreadCPUClock.measure { bytes = engine.snapshot(reservingCapacity: bytes.count) }
        var digest = RecommendationDigest()
        digest.add(snapshot: bytes)
        print(String(format: "snapshot    %.1f MB in %.0f ms CPU, digest %016llx of its bytes", Double(bytes.count) / 1e6,
                     seconds * 1000, digest.value))
    }

    /// What a checkpoint costs the loop (`serve` hands a copy of the engine to its writer): the next events are
    /// applied once with no copy held and once while a copy is alive, so every write to state the copy still
    /// shares pays copy-on-write. Runs after everything else, so it changes no figure above.
    private func measureCopyStall(_ engine: inout RecommendationEngine, generator: inout some BenchEventStream) {
        let steps = [100, 1_000, 5_000]
        func applyTimed(_ events: [Event]) -> [Double] {
            var cumulative: [Double] = []
            var done = 0
            var seconds = 0.0
            for step in steps {
                seconds += ThreadCPUClock.measure { for event in events[done..<step] { engine.apply(event) } }
                done = step
                cumulative.append(seconds)
            }
            return cumulative
        }
        let alone = applyTimed((0..<steps.last!).map { _ in generator.nextEvent() })
        let events = (0..<steps.last!).map { _ in generator.nextEvent() }
        var held: RecommendationEngine?
        let copySeconds = ThreadCPUClock.measure { held = engine }
        let shared = applyTimed(events)
        // Reading the copy keeps it alive (and checks it kept its events) up to here.
        let heldEvents = held?.eventCount ?? -1
        let releaseSeconds = ThreadCPUClock.measure { held = nil }
        let row = zip(steps, zip(shared, alone)).map { step, times in
            String(format: "%d: %.2f ms (%.2f)", step, times.0 * 1000, times.1 * 1000)
        }
        print(String(format: "copy stall  copy %.1f µs, dropped after the events in %.2f ms (copy at %lld events, engine at %lld)",
                     copySeconds * 1e6, releaseSeconds * 1000, heldEvents, engine.eventCount))
        print("copy stall  CPU for the first N events applied while the copy is held (without a copy): "
              + row.joined(separator: ", "))
    }
}

/// FNV-1a over recommendation lists: a change of any id, score bit or reason changes it (compares builds).
struct RecommendationDigest {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    private mutating func add(bytes: some Sequence<UInt8>) {
        for byte in bytes { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }

    private mutating func add(_ text: String?) { add(bytes: Array((text ?? "\u{0}").utf8) + [0xff]) }

    mutating func add(snapshot bytes: [UInt8]) { add(bytes: bytes) }

    mutating func add(_ list: [Recommendation]) {
        for recommendation in list {
            add(recommendation.itemID)
            withUnsafeBytes(of: recommendation.score.bitPattern.littleEndian) { add(bytes: $0) }
            for reason in recommendation.reasons {
                add(reason.kind)
                add(reason.itemID)
                add(reason.query)
            }
            add(bytes: [0xfe])
        }
        add(bytes: [0xfd])
    }
}

/// Where `bench engine` gets its events.
protocol BenchEventStream {
    /// Item metadata, applied before everything else.
    mutating func metadataEvents() -> [Event]
    mutating func nextEvent() -> Event
    /// The next event as an input JSON line (for timing the decoder).
    mutating func nextJSONLine() -> [UInt8]
    /// Users who were active lately (what a live service recommends for).
    mutating func recentUsers(_ count: Int) -> [String]
}

/// `bench pipeline`'s events (``SessionGenerator``), converted to engine events without JSON.
struct ShopSessionStream: BenchEventStream {
    private var generator: SessionGenerator
    private var random: SplitMix64
    private var recent: [String] = []

    init(users: Int, seed: UInt64) {
        generator = SessionGenerator.benchShop(users: users, seed: seed)
        random = SplitMix64(seed: seed)
    }

    mutating func metadataEvents() -> [Event] { generator.catalogueEvents().map(Self.event) }

    mutating func nextEvent() -> Event {
        let event = Self.event(generator.next())
        if let user = event.userID {
            recent.append(user)
            if recent.count > 100_000 { recent.removeFirst(50_000) }
        }
        return event
    }

    mutating func nextJSONLine() -> [UInt8] { generator.next().jsonBytes() }

    mutating func recentUsers(_ count: Int) -> [String] {
        (0..<count).map { _ in recent[Int(random.next(below: UInt64(recent.count)))] }
    }

    private static func event(_ generated: GeneratedEvent) -> Event {
        // The generator writes only valid types.
        Event(eventID: generated.eventID, type: EventType(rawValue: generated.type)!, userID: generated.userID,
              sessionID: generated.sessionID, itemID: generated.itemID, query: generated.query,
              title: generated.title, category: generated.category, timestampMilliseconds: generated.timestamp)
    }
}

/// The synthetic workload; see the command's discussion.
struct SyntheticStream: BenchEventStream {
    private var random: SplitMix64
    private let userIDs: [String]
    private let itemIDs: [String]
    private let itemCDF: [Double]
    private let queryCDF: [Double]
    private var time: Int64 = 1_700_000_000_000
    private var sessionUser = 0
    private var sessionItem = 0
    private var sessionLeft = 0
    private var sessionNumber = 0
    private var recent: [Int] = []

    init(users: Int, items: Int, zipf: Double, seed: UInt64) {
        random = SplitMix64(seed: seed)
        userIDs = (0..<users).map { "u\($0)" }
        itemIDs = (0..<items).map { "i\($0)" }
        itemCDF = Self.zipfCDF(count: items, exponent: zipf)
        queryCDF = Self.zipfCDF(count: 10_000, exponent: zipf)
    }

    static func zipfCDF(count: Int, exponent: Double) -> [Double] {
        var cdf = [Double](repeating: 0, count: count)
        var sum = 0.0
        for rank in 0..<count {
            sum += 1 / pow(Double(rank + 1), exponent)
            cdf[rank] = sum
        }
        return cdf.map { $0 / sum }
    }

    private mutating func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }

    private mutating func draw(_ cdf: [Double]) -> Int {
        let target = uniform()
        var low = 0
        var high = cdf.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cdf[middle] < target { low = middle + 1 } else { high = middle }
        }
        return low
    }

    func metadataEvents() -> [Event] {
        itemIDs.enumerated().map { index, id in
            Event(type: .item, itemID: id, title: "product \(index % 997) model \(index % 13)",
                  category: "c\(index % 50)", timestampMilliseconds: time)
        }
    }

    mutating func next() -> (event: Event, jsonLine: String) {
        time += 2
        if sessionLeft == 0 {
            sessionUser = Int(random.next() % UInt64(userIDs.count))
            sessionItem = draw(itemCDF)
            sessionLeft = 2 + Int(random.next() % 7)
            sessionNumber += 1
            recent.append(sessionUser)
            if recent.count > 100_000 { recent.removeFirst(50_000) }
            if random.next() % 20 == 0 {
                let query = "query \(draw(queryCDF)) shoes"
                let event = Event(eventID: "e\(time)", type: .search, userID: userIDs[sessionUser],
                                  sessionID: "s\(sessionNumber)", query: query, timestampMilliseconds: time)
                return (event, #"{"event_id":"e\#(time)","type":"search","user_id":"\#(userIDs[sessionUser])","session_id":"s\#(sessionNumber)","query":"\#(query)","timestamp":\#(time)}"#)
            }
        }
        sessionLeft -= 1
        let offset = Int(random.next() % 101) - 50
        let item = itemIDs[(sessionItem + offset + itemIDs.count) % itemIDs.count]
        let roll = random.next() % 100
        let type: EventType = roll < 70 ? .view : roll < 95 ? .click : roll < 99 ? .cart : .purchase
        let event = Event(eventID: "e\(time)", type: type, userID: userIDs[sessionUser], sessionID: "s\(sessionNumber)",
                          itemID: item, timestampMilliseconds: time)
        return (event, #"{"event_id":"e\#(time)","type":"\#(type.rawValue)","user_id":"\#(userIDs[sessionUser])","session_id":"s\#(sessionNumber)","item_id":"\#(item)","timestamp":\#(time)}"#)
    }

    mutating func nextEvent() -> Event { next().event }

    mutating func nextJSONLine() -> [UInt8] { Array(next().jsonLine.utf8) }

    mutating func recentUsers(_ count: Int) -> [String] {
        (0..<count).map { _ in userIDs[recent[Int(random.next() % UInt64(recent.count))]] }
    }
}


/// CPU time of the calling thread: "on one core" even when the machine is shared (wall time then includes waits).
enum ThreadCPUClock {
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func measure(_ body: () -> Void) -> Double {
        let start = now()
        body()
        return now() - start
    }
}

/// The process's resident set size, from /proc/self/statm (Linux; 0 elsewhere).
enum ResidentMemory {
    static func bytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
