import Foundation
import Logging
import Synchronization
import Testing

@testable import StreamRecKafka

@Suite("Embedded broker, admin, logging and statistics")
struct EmbeddedKafkaTests {
    @Test("a fixed port forwards to the mock cluster")
    func fixedPortForwards() async throws {
        let port = try freePort()
        let kafka = try EmbeddedKafka(brokers: 2, port: port, logger: testLogger())
        #expect(kafka.bootstrapServers == "127.0.0.1:\(port)")
        let topic = uniqueName("fixed")
        try kafka.createTopic(topic, partitions: 3)

        let admin = try KafkaAdmin(configuration: testConfiguration(kafka), logger: testLogger())
        #expect(try await admin.listTopics()[topic] == 3)
        let producer = try testProducer(kafka)
        let (_, offset) = try await producer.send(topic: topic, key: "k".bytes, value: "v".bytes)
        #expect(offset == 0)
        await producer.close()
        kafka.shutdown()
        #expect(throws: KafkaError.self) { try kafka.createTopic("late", partitions: 1) }
    }

    @Test("a taken port is a clear error naming the port")
    func takenPortFails() throws {
        let holder = try EmbeddedKafka(port: try freePort(), logger: testLogger())
        let port = Int(holder.bootstrapServers.split(separator: ":").last!)!
        let error = #expect(throws: KafkaError.self) { try EmbeddedKafka(port: port, logger: testLogger()) }
        #expect(error?.code == .portInUse)
        #expect(error?.reason.contains("port \(port)") == true)
    }

    @Test("admin creates topics on the embedded broker and lists them with their partitions")
    func adminCreatesAndListsTopics() async throws {
        let kafka = try EmbeddedKafka(brokers: 3, logger: testLogger())
        let admin = try KafkaAdmin(configuration: testConfiguration(kafka), logger: testLogger())
        let events = uniqueName("events")
        let recommendations = uniqueName("recommendations")
        try await admin.createTopic(events, partitions: 6)
        try await admin.createTopic(recommendations, partitions: 2, replicationFactor: 3)
        let topics = try await admin.listTopics()
        #expect(topics[events] == 6)
        #expect(topics[recommendations] == 2)
        await #expect(throws: KafkaError.self) { try await admin.createTopic("bad", partitions: 0) }
    }

    @Test("a rejected librdkafka property names the key")
    func badPropertyNamesKey() throws {
        let configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:1", properties: ["no.such.property": "1"])
        let error = #expect(throws: KafkaError.self) { try KafkaProducer(configuration: configuration, logger: testLogger()) }
        #expect(error?.code == .configuration)
        #expect(error?.reason.contains("no.such.property") == true)
    }

    @Test("clients turn Nagle's algorithm off unless the caller's properties say otherwise")
    func nagleOffByDefault() {
        let plain = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
        #expect(plain.librdkafkaProperties()["socket.nagle.disable"] == "true")
        #expect(plain.librdkafkaProperties(defaults: KafkaConsumer.defaultProperties)["socket.nagle.disable"] == "true")
        let chosen = KafkaConfiguration(bootstrapServers: "127.0.0.1:1", properties: ["socket.nagle.disable": "false"])
        #expect(chosen.librdkafkaProperties()["socket.nagle.disable"] == "false")
    }

    @Test("the embedded brokers accept connections with Nagle's algorithm off")
    func embeddedBrokersWithoutNagle() async throws {
        let kafka = try EmbeddedKafka(brokers: 2, logger: testLogger())
        defer { kafka.shutdown() }
        let ports = kafka.bootstrapServers.split(separator: ",").compactMap { $0.split(separator: ":").last.flatMap { UInt16($0) } }
        #expect(ports.count == 2)
        for port in ports {
            let client = try connectToLoopback(port: port)
            defer { close(client) }
            // The mock's thread accepts on its own: its end is the socket on the broker's port that has a peer.
            let deadline = ContinuousClock.now + .seconds(10)
            var accepted = acceptedSocket(localPort: port)
            while accepted == nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                accepted = acceptedSocket(localPort: port)
            }
            let socket = try #require(accepted)
            var noDelay: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            #expect(getsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, &size) == 0)
            #expect(noDelay != 0)
        }
    }

    @Test("librdkafka's logs reach swift-log with their facility")
    func logsReachSwiftLog() async throws {
        let recorder = RecordingLogHandler()
        let logger = Logger(label: "recorded") { _ in recorder }
        // Nothing listens on port 1: librdkafka logs the refused connection.
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1", properties: ["reconnect.backoff.ms": "10"]),
            logger: logger)
        try await producer.enqueue(topic: "nowhere", key: nil, value: [1])
        let deadline = ContinuousClock.now + .seconds(20)
        while recorder.entries.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let entry = try #require(recorder.entries.first)
        #expect(entry.metadata["kafka.facility"] != nil)
        #expect(entry.metadata["kafka.client"]?.description.hasPrefix("rdkafka#producer") == true)
    }

    @Test("statistics are parsed for throughput and lag")
    func statisticsParsed() async throws {
        let (kafka, topic) = try brokerWithTopic("stats")
        var configuration = testConfiguration(kafka)
        configuration.statisticsInterval = .milliseconds(100)
        let producer = try KafkaProducer(configuration: configuration, logger: testLogger())
        for index in 0..<20 { try await producer.send(topic: topic, key: nil, value: [UInt8(index)]) }

        let consumer = try KafkaConsumer(configuration: configuration, groupID: uniqueName("g"), logger: testLogger())
        try consumer.subscribe(topics: [topic])
        _ = try await consumeRecords(consumer, count: 20)
        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        // librdkafka's consumer_lag counts from the committed offset.
        try await consumer.commit([partition: 15])
        let deadline = ContinuousClock.now + .seconds(20)
        while producer.latestStatistics.map({ $0.transmittedMessages < 20 }) ?? true
            || consumer.latestStatistics.map({ $0.receivedMessages < 20 || $0.consumerLag[partition] != 5 }) ?? true
        {
            guard ContinuousClock.now < deadline else {
                throw TestTimeout(description: "statistics: \(String(describing: consumer.latestStatistics))")
            }
            _ = try await consumer.poll(maxEvents: 10, timeout: .milliseconds(100))
        }
        #expect(producer.latestStatistics?.transmittedMessages == 20)
        #expect(consumer.latestStatistics?.totalConsumerLag == 5)
        try await consumer.close()
        await producer.close()
    }

    /// The cause of `bench kafka`'s "stall" at 1M messages: unkeyed messages overfilled some partitions, the
    /// mock dropped their oldest records, and a consumer waiting for all of them waited forever. The bench now
    /// keys its messages and checks the low watermarks, which is what this pins down.
    @Test("a partition past the mock's ~5 MB drops its oldest records; the low watermark says where the rest start")
    func fullPartitionDropsOldestRecords() async throws {
        let (kafka, topic) = try brokerWithTopic("full")
        let producer = try testProducer(kafka)
        let total = 64
        for index in 0..<total {
            try await producer.enqueue(topic: topic, key: nil, value: [UInt8](repeating: UInt8(index), count: 100_000))
        }
        try await producer.flush(timeout: .seconds(30))
        await producer.close()

        let consumer = try testConsumer(kafka)
        let (low, high) = try await consumer.watermarks(KafkaTopicPartition(topic: topic, partition: 0))
        #expect(high == Int64(total))
        #expect(low > 0)
        #expect(low < Int64(total))
        // Reading from the beginning yields what is left, starting at the low watermark: waiting for all
        // `total` records would never end.
        try consumer.subscribe(topics: [topic])
        let records = try await consumeRecords(consumer, count: total - Int(low))
        #expect(records.first?.offset == low)
        #expect(records.first?.value?.first == UInt8(low))
        #expect(records.count == total - Int(low))
        try await consumer.close()
    }

    @Test("throughput is computed between two statistics; brokers up are counted")
    func throughputBetweenStatistics() throws {
        func json(ts: Int, tx: Int, rx: Int, lag: Int) -> [UInt8] {
            Array(
                """
                {"name":"rdkafka#consumer-1","ts":\(ts),"txmsgs":\(tx),"txmsg_bytes":\(tx * 100),"rxmsgs":\(rx),
                 "rxmsg_bytes":\(rx * 200),"msg_cnt":3,"topics":{"events":{"partitions":{
                 "0":{"consumer_lag":\(lag),"fetch_state":"active"},"-1":{"consumer_lag":-1,"fetch_state":"none"}}}},
                 "brokers":{"127.0.0.1:9092/bootstrap":{"nodeid":-1,"state":"UP"},
                 "127.0.0.1:40001/1":{"nodeid":1,"state":"\(tx == 0 ? "DOWN" : "UP")"},
                 "127.0.0.1:40002/2":{"nodeid":2,"state":"UP"}}}
                """.utf8)
        }
        let earlier = try KafkaStatistics(json: json(ts: 1_000_000, tx: 0, rx: 0, lag: 50))
        let later = try KafkaStatistics(json: json(ts: 3_000_000, tx: 400, rx: 1000, lag: 7))
        #expect(later.consumerLag == [KafkaTopicPartition(topic: "events", partition: 0): 7])
        #expect(later.totalConsumerLag == 7)
        #expect(later.queuedMessages == 3)
        #expect(earlier.brokersUp == 1)
        #expect(later.brokersUp == 2)
        let rates = later.throughput(since: earlier)
        #expect(rates.transmittedMessagesPerSecond == 200)
        #expect(rates.transmittedBytesPerSecond == 20_000)
        #expect(rates.receivedMessagesPerSecond == 500)
        #expect(rates.receivedBytesPerSecond == 100_000)
    }
}

/// A port nothing listens on right now (the kernel's pick for port 0).
func freePort() throws -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let result = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(socket, pointer, length) == 0 ? getsockname(socket, pointer, &length) : -1
        }
    }
    guard result == 0 else { throw TestTimeout(description: "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Keeps every log entry for assertions.
final class RecordingLogHandler: LogHandler, Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }
    private let stored = Mutex<[Entry]>([])
    var entries: [Entry] { stored.withLock { $0 } }

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        stored.withLock { $0.append(Entry(level: event.level, message: event.message.description, metadata: event.metadata ?? [:])) }
    }
}

func connectToLoopback(port: UInt16) throws -> Int32 {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
    address.sin_port = port.bigEndian
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
        close(socket)
        throw TestTimeout(description: "could not connect to 127.0.0.1:\(port)")
    }
    return socket
}

/// A connected TCP socket of this process whose local port is `localPort` (the server's end), if any.
func acceptedSocket(localPort: UInt16) -> Int32? {
    let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return descriptors.compactMap { Int32($0) }.first { descriptor in
        var local = sockaddr_in()
        var peer = sockaddr_in()
        var localLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &localLength) }
        }
        let connected = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(descriptor, $0, &peerLength) }
        }
        return named == 0 && connected == 0 && local.sin_family == sa_family_t(AF_INET)
            && UInt16(bigEndian: local.sin_port) == localPort
    }
}
