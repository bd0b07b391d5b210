import Foundation
import StreamRecKafka
import Testing
@testable import StreamRecService

/// The service as a child process against an embedded broker in the test process.
@Suite(.serialized) struct EndToEndTests {
    @Test(.timeLimit(.minutes(2)))
    func everyUserGetsRecommendationsFromTheirLastEventAndShutdownCommitsIt() async throws {
        let cluster = try TestCluster(inputPartitions: 6)
        let users = (1...40).map { "user-\($0)" }
        var lastEvent: [String: RecommendationMessage.Source] = [:]
        var time: Int64 = 1_732_550_400_000
        var sentEvents = 0
        func send(_ id: String, _ type: String, _ user: String, item: String? = nil, query: String? = nil) async throws {
            time += 1000
            let (partition, offset) = try await cluster.send(
                eventJSON(id: id, type: type, user: user, item: item, query: query, timestamp: time), key: user)
            lastEvent[user] = .init(topic: cluster.inputTopic, partition: partition, offset: offset)
            sentEvents += 1
        }
        for (index, user) in users.enumerated() {
            try await send("\(user)-1", "search", user, query: "trail shoes")
            try await send("\(user)-2", "click", user, item: "sku-\(index % 7)", query: "trail shoes")
            try await send("\(user)-3", "view", user, item: "sku-\((index + 1) % 7)")
            try await send("\(user)-4", "cart", user, item: "sku-\(index % 7)")
        }
        // 25 duplicates (same event_id, sent again), then one more real event per user.
        for user in users.prefix(25) {
            try await cluster.send(eventJSON(id: "\(user)-2", type: "click", user: user, item: "sku-9", timestamp: time), key: user)
        }
        for (index, user) in users.enumerated() {
            try await send("\(user)-5", "click", user, item: "sku-\((index + 3) % 7)")
        }

        let service = try cluster.startService()
        let port = try await service.httpPort()
        let latest = try await cluster.latestRecommendations(from: lastEvent, timeout: .seconds(60))
        for user in users {
            #expect(latest[user]?.source == lastEvent[user], "\(user)")
            #expect(latest[user]?.items.isEmpty == false, "\(user) got no items")
        }

        // The HTTP answer equals the message last published, as long as no event came after it: one more
        // event for user-1, and nothing else, then both are compared.
        try await send("user-1-6", "view", "user-1", item: "sku-6")
        let afterProbe = try await cluster.read(cluster.outputTopic, timeout: .seconds(30)) { records in
            TestCluster.latestByUser(records)["user-1"]?.source == lastEvent["user-1"]
        }
        let probeMessage = try #require(TestCluster.latestByUser(afterProbe)["user-1"])
        let (status, body) = try await httpGet(port: port, path: "/v1/users/user-1/recommendations")
        #expect(status == 200)
        let response = try JSONDecoder().decode(HTTPServer.RecommendationsResponse.self, from: Data(body.utf8))
        #expect(response.items == probeMessage.items)
        #expect(!response.items.isEmpty)
        let (_, fewer) = try await httpGet(port: port, path: "/v1/users/user-1/recommendations?k=3")
        #expect(try JSONDecoder().decode(HTTPServer.RecommendationsResponse.self, from: Data(fewer.utf8)).items.count == 3)
        #expect(try await httpGet(port: port, path: "/readyz").status == 200)

        // Metrics: duplicates dropped and counted once; every other event counted by type.
        let metrics = try #require(PrometheusText.parse(try await httpGet(port: port, path: "/metrics").body))
        let consumed = metrics.filter { $0.key.hasPrefix("streamrec_events_consumed_total") }.values.reduce(0, +)
        #expect(consumed == Double(sentEvents))
        #expect(metrics["streamrec_duplicate_events_total"] == 25)
        #expect(metrics[#"streamrec_events_consumed_total{type="search"}"#] == Double(users.count))
        #expect(metrics["streamrec_recommendations_published_total"].map { $0 >= Double(users.count) } == true)

        // `subscribe --json` reads the same messages.
        let subscribe = try runToCompletion(ServiceProcess.binaryPath, [
            "subscribe", "--brokers", cluster.broker.bootstrapServers, "--topic", cluster.outputTopic,
            "--from-beginning", "--json", "--idle-timeout", "4",
        ])
        #expect(subscribe.status == 0)
        let subscribed = try subscribe.output.split(separator: "\n").map { try RecommendationMessage(decoding: Array($0.utf8)) }
        // A rebalance in its private group may re-read a partition (it commits nothing): at least all of them.
        #expect(subscribed.count >= afterProbe.count)
        var subscribedLatest: [String: RecommendationMessage] = [:]
        for message in subscribed { subscribedLatest[message.userID] = message }
        #expect(subscribedLatest == TestCluster.latestByUser(afterProbe))

        // kcat, a client that is not ours, reads them too.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/kcat") {
            let kcat = try runToCompletion("/usr/bin/kcat", [
                "-b", cluster.broker.bootstrapServers, "-C", "-t", cluster.outputTopic, "-e", "-q", "-f", "%k\n",
            ])
            #expect(Set(kcat.output.split(separator: "\n").map(String.init)) == Set(users))
        }

        // SIGTERM: exit 0 within 10 s, committed offsets = last processed + 1 on every partition.
        service.signal(SIGTERM)
        let exit = await service.waitForExit(timeout: .seconds(10))
        #expect(exit?.status == 0 && exit?.bySignal == false, "exit: \(String(describing: exit))\n\(service.log)")
        let committed = try await cluster.committedOffsets(partitions: 6)
        let checkpoint = try #require(try await cluster.checkpoint())
        for partition in 0..<6 {
            let topicPartition = KafkaTopicPartition(topic: cluster.inputTopic, partition: Int32(partition))
            let consumer = try KafkaConsumer(
                configuration: KafkaConfiguration(bootstrapServers: cluster.broker.bootstrapServers),
                groupID: "watermarks", logger: TestCluster.logger)
            let (_, high) = try await consumer.watermarks(topicPartition)
            try await consumer.close()
            #expect(committed[topicPartition] == high, "partition \(partition)")
            #expect(checkpoint.nextOffsets[topicPartition] == high, "partition \(partition)")
        }
        await cluster.close()
    }
}
