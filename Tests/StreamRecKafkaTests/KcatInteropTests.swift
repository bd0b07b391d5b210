import Foundation
import Testing

@testable import StreamRecKafka

/// kcat (Debian package `kcat`, installed by `make test`) talking to our embedded broker.
@Suite("Interop with kcat", .enabled(if: Kcat.path != nil, "kcat is not installed (apt-get install kcat)"))
struct KcatInteropTests {
    @Test("kcat produces to the embedded broker and our consumer reads it")
    func kcatProducesWeConsume() async throws {
        let (kafka, topic) = try brokerWithTopic("from-kcat", partitions: 2)
        let lines = (0..<50).map { "key-\($0 % 3):value-\($0)" }
        let output = try await Kcat.run(
            ["-P", "-b", kafka.bootstrapServers, "-t", topic, "-K:"], input: lines.joined(separator: "\n") + "\n")
        #expect(output.status == 0, "kcat failed: \(output.standardError)")

        let consumer = try testConsumer(kafka)
        try consumer.subscribe(topics: [topic])
        let records = try await consumeRecords(consumer, count: 50)
        let received = records.map { "\($0.key!.text):\($0.value!.text)" }
        #expect(Set(received) == Set(lines))
        // kcat uses the same default partitioner: one key, one partition.
        #expect(Dictionary(grouping: records, by: { $0.key! }).values.allSatisfy { Set($0.map(\.partition)).count == 1 })
        try await consumer.close()
    }

    @Test("kcat reads what our producer wrote")
    func weProduceKcatConsumes() async throws {
        let (kafka, topic) = try brokerWithTopic("to-kcat", partitions: 2)
        let producer = try testProducer(kafka)
        let pairs = (0..<50).map { ("key-\($0 % 3)", "value-\($0)") }
        for (key, value) in pairs {
            try await producer.enqueue(
                topic: topic, key: key.bytes, value: value.bytes, headers: [KafkaHeader(key: "source", value: "swift".bytes)])
        }
        try await producer.flush(timeout: .seconds(10))

        let output = try await Kcat.run([
            "-C", "-b", kafka.bootstrapServers, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k|%s|%h\n",
        ])
        #expect(output.status == 0, "kcat failed: \(output.standardError)")
        let lines = output.standardOutput.split(separator: "\n").map(String.init)
        #expect(Set(lines) == Set(pairs.map { "\($0.0)|\($0.1)|source=swift" }))
        #expect(lines.count == 50)
        await producer.close()
    }
}

enum Kcat {
    static let path: String? = ["/usr/bin/kcat", "/usr/local/bin/kcat", "/opt/homebrew/bin/kcat"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    struct Output {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    /// Runs kcat to completion off the cooperative pool.
    static func run(_ arguments: [String], input: String? = nil) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(path))
        process.arguments = arguments
        let standardOutput = Pipe()
        let standardError = Pipe()
        let standardInput = Pipe()
        process.standardOutput = standardOutput
        process.standardError = standardError
        process.standardInput = standardInput
        try process.run()
        if let input { standardInput.fileHandleForWriting.write(Data(input.utf8)) }
        try standardInput.fileHandleForWriting.close()
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let out = standardOutput.fileHandleForReading.readDataToEndOfFile()
                let err = standardError.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(
                    returning: Output(
                        status: process.terminationStatus, standardOutput: String(decoding: out, as: UTF8.self),
                        standardError: String(decoding: err, as: UTF8.self)))
            }
        }
    }
}
