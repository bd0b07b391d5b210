import Foundation
import StreamRecKafka
import Testing
@testable import StreamRecService

@Suite(.serialized) struct FaultToleranceTests {
    /// Hostile messages of every kind, 5 in 6 of all messages: each lands in the DLQ with its bytes and a
    /// reason, every good event is applied, and the service stays up.
    @Test(.timeLimit(.minutes(3)))
    func hostileInputGoesToTheDeadLetterTopicAndGoodInputIsApplied() async throws {
        let cluster = try TestCluster(inputPartitions: 3)
        let service = try cluster.startService()
        let port = try await service.httpPort()
        let deadLetterReader = try TopicReader(cluster: cluster, topic: cluster.deadLetterTopic)

        let megabyte = String(repeating: "x", count: 1 << 20)
        func hostile(_ index: Int) -> [UInt8]? {
            switch index % 10 {
            case 0: return Array(#"{"type":"click","user_id":"u1","item_id":"sku-"#.utf8)  // truncated JSON
            case 1: return Array(#"{"type":"click","user_id":42,"item_id":"sku-1","timestamp":1}"#.utf8)  // wrong type
            case 2: return Array(#"{"type":"click","user_id":"u1","timestamp":1}"#.utf8)  // missing item_id
            case 3: return Array(#"{"type":"search","user_id":"u"#.utf8) + [0xC3, 0x28, 0xFF] + Array(#"","query":"q","timestamp":1}"#.utf8)  // invalid UTF-8
            case 4: return (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ index) }  // binary
            case 5: return Array(#"{"type":"click","user_id":null,"item_id":"sku-1","timestamp":1}"#.utf8)  // null
            case 6: return nil  // tombstone
            case 7: return Array(#"{"type":"teleport","user_id":"u1","timestamp":1}"#.utf8)  // unknown type
            case 8: return Array(#"{"type":"search","user_id":"u1","query":"q","timestamp":"yesterday"}"#.utf8)  // bad time
            default: return Array("[1,2,3]".utf8)  // not an object
            }
        }

        var expectedDeadLetters: [String: [UInt8]?] = [:]
        var goodEvents = 0
        var time: Int64 = 1_732_550_400_000
        for index in 0..<12_000 {
            if index % 6 == 0 {
                let user = "user-\(index % 50)"
                time += 1
                try await cluster.producer.enqueue(
                    topic: cluster.inputTopic, key: Array(user.utf8),
                    value: eventJSON(id: "good-\(index)", type: "click", user: user, item: "sku-\(index % 13)", timestamp: time))
                goodEvents += 1
            } else {
                let key = "bad-\(index)"
                let value = hostile(index)
                expectedDeadLetters[key] = value
                try await cluster.producer.enqueue(topic: cluster.inputTopic, key: Array(key.utf8), value: value)
            }
        }
        try await cluster.producer.flush(timeout: .seconds(30))
        // 1 MB strings, sent once the rest is consumed (the mock broker keeps only a few MB per partition).
        _ = try await deadLetterReader.read(timeout: .seconds(90)) { $0.count >= 10_000 }
        for index in 0..<5 {
            let key = "huge-\(index)"
            let value = index % 2 == 0
                ? Array(#"{"type":"click","user_id":"\#(megabyte)","item_id":"sku-1","timestamp":1}"#.utf8)
                : Array(#"{"type":"search","user_id":"u1","query":"\#(megabyte)","timestamp":1}"#.utf8)
            expectedDeadLetters[key] = value
            try await cluster.producer.send(topic: cluster.inputTopic, key: Array(key.utf8), value: value)
        }
        #expect(expectedDeadLetters.count == 10_005)

        let deadLetters = try await deadLetterReader.read(timeout: .seconds(90)) {
            $0.count >= expectedDeadLetters.count
        }
        try await deadLetterReader.consumer.close()
        #expect(deadLetters.count == expectedDeadLetters.count)
        var seenKeys = Set<String>()
        for letter in deadLetters {
            let key = String(decoding: letter.key ?? [], as: UTF8.self)
            seenKeys.insert(key)
            let reason = DeadLetter.header(DeadLetter.reasonHeader, in: letter.headers) ?? ""
            #expect(!reason.isEmpty, "\(key) has no reason")
            #expect(DeadLetter.header(DeadLetter.topicHeader, in: letter.headers) == cluster.inputTopic)
            #expect(DeadLetter.header(DeadLetter.offsetHeader, in: letter.headers).flatMap { Int64($0) } != nil)
            guard let original = expectedDeadLetters[key] else {
                Issue.record("unexpected dead letter \(key): \(reason)")
                continue
            }
            if key.hasPrefix("huge-") {
                #expect(letter.value == original.map { Array($0.prefix(DeadLetter.maximumValueBytes)) })
                #expect(DeadLetter.header(DeadLetter.originalSizeHeader, in: letter.headers) == original.map { String($0.count) })
            } else {
                #expect(letter.value == original, "\(key) bytes changed")
            }
        }
        #expect(seenKeys == Set(expectedDeadLetters.keys))

        let metrics = try #require(PrometheusText.parse(try await httpGet(port: port, path: "/metrics").body))
        let consumed = metrics.filter { $0.key.hasPrefix("streamrec_events_consumed_total") }.values.reduce(0, +)
        #expect(consumed == Double(goodEvents))
        #expect(metrics["streamrec_dead_letters_total"] == Double(expectedDeadLetters.count))
        #expect(try await httpGet(port: port, path: "/healthz").status == 200)
        #expect(service.process.isRunning)

        service.signal(SIGTERM)
        let exit = await service.waitForExit(timeout: .seconds(10))
        #expect(exit?.status == 0 && exit?.bySignal == false)
        await cluster.close()
    }

    /// The only broker goes down for more than 10 s mid-stream while events keep arriving: readiness goes
    /// false, the service waits, and afterwards every event is applied exactly once.
    @Test(.timeLimit(.minutes(2)))
    func brokerOutageIsWaitedOutAndNothingIsLost() async throws {
        let cluster = try TestCluster(inputPartitions: 3)
        let service = try cluster.startService()
        let port = try await service.httpPort()
        let users = (0..<30).map { "user-\($0)" }
        var lastEventTime: [String: Int64] = [:]
        var time: Int64 = 1_732_550_400_000
        var sent = 0
        func sendRound(_ round: Int) async throws {
            for user in users {
                time += 1
                try await cluster.producer.enqueue(
                    topic: cluster.inputTopic, key: Array(user.utf8),
                    value: eventJSON(id: "\(user)-\(round)", type: "click", user: user, item: "sku-\((round + sent) % 17)", timestamp: time))
                lastEventTime[user] = time
                sent += 1
            }
        }
        func allUsersCaughtUp() async throws -> Bool {
            let latest = TestCluster.latestByUser(try await cluster.read(cluster.outputTopic, timeout: .seconds(60)) { records in
                let latest = TestCluster.latestByUser(records)
                return users.allSatisfy { latest[$0]?.eventTime == lastEventTime[$0] }
            })
            return users.allSatisfy { latest[$0]?.eventTime == lastEventTime[$0] }
        }

        for round in 0..<10 { try await sendRound(round) }
        try await cluster.producer.flush(timeout: .seconds(30))
        #expect(try await allUsersCaughtUp())
        _ = try await eventually("ready", timeout: .seconds(20)) { try await httpGet(port: port, path: "/readyz").status == 200 ? true : nil }

        try cluster.broker.setBrokerDown(1)
        let outageStarted = ContinuousClock.now
        // Events keep arriving during the outage (they wait in the producer).
        for round in 10..<20 { try await sendRound(round) }
        do {
            _ = try await eventually("readiness to go false", timeout: .seconds(30)) {
                try await httpGet(port: port, path: "/readyz").status == 503 ? true : nil
            }
        } catch {
            // Seen once in about 10 runs of the suite on a loaded machine: what serve was doing says why.
            Issue.record("serve's log: \(service.log.suffix(4000))")
            throw error
        }
        #expect(service.process.isRunning)
        try await Task.sleep(until: outageStarted + .seconds(10))
        #expect(service.process.isRunning)
        try cluster.broker.setBrokerUp(1)

        try await cluster.producer.flush(timeout: .seconds(60))
        #expect(try await allUsersCaughtUp())
        _ = try await eventually("ready again", timeout: .seconds(30)) { try await httpGet(port: port, path: "/readyz").status == 200 ? true : nil }
        let metrics = try #require(PrometheusText.parse(try await httpGet(port: port, path: "/metrics").body))
        let consumed = metrics.filter { $0.key.hasPrefix("streamrec_events_consumed_total") }.values.reduce(0, +)
        #expect(consumed == Double(sent), "every event applied once")
        #expect(metrics["streamrec_duplicate_events_total"] == 0)

        service.signal(SIGTERM)
        let exit = await service.waitForExit(timeout: .seconds(10))
        #expect(exit?.status == 0 && exit?.bySignal == false, "\(service.log.suffix(2000))")
        await cluster.close()
    }
}
