import Foundation
import StreamRecKafka
import Testing
@testable import StreamRecService

@Suite struct CheckpointTests {
    static func sample() -> Checkpoint {
        Checkpoint(
            nextOffsets: [
                KafkaTopicPartition(topic: "events", partition: 0): 42,
                KafkaTopicPartition(topic: "events", partition: 5): 7,
            ],
            recentEventIDs: ["e1", "e2", "é3"],
            engineSnapshot: (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) },
            createdAtMilliseconds: 1_732_550_400_000)
    }

    static func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "streamrec-checkpoint-\(UUID().uuidString)"
    }

    @Test func roundTripsThroughBytes() throws {
        let checkpoint = Self.sample()
        #expect(try Checkpoint(decoding: checkpoint.encoded()) == checkpoint)
        #expect(checkpoint.encoded() == checkpoint.encoded())
    }

    @Test func detectsEveryFlippedByteAndTruncation() throws {
        let bytes = Self.sample().encoded()
        for index in stride(from: 0, to: bytes.count, by: 37) {
            var damaged = bytes
            damaged[index] ^= 0x40
            #expect(throws: CheckpointError.self) { try Checkpoint(decoding: damaged) }
        }
        #expect(throws: CheckpointError.self) { try Checkpoint(decoding: Array(bytes.dropLast(10))) }
        #expect(throws: CheckpointError.self) { try Checkpoint(decoding: []) }
    }

    @Test func storeSavesLoadsAndReplaces() async throws {
        let store = CheckpointStore(directory: Self.temporaryDirectory())
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        #expect(try await store.load() == nil)
        var checkpoint = Self.sample()
        try await store.save(checkpoint)
        #expect(try await store.load() == checkpoint)
        checkpoint.nextOffsets[KafkaTopicPartition(topic: "events", partition: 0)] = 43
        checkpoint.engineSnapshot = [1, 2, 3]
        try await store.save(checkpoint)
        #expect(try await store.load() == checkpoint)
        #expect(!FileManager.default.fileExists(atPath: store.temporaryPath))
    }

    @Test func leftoverTemporaryFileFromACrashIsIgnored() async throws {
        let store = CheckpointStore(directory: Self.temporaryDirectory())
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        try await store.save(Self.sample())
        // A crash mid-write leaves a partial temporary file next to the good checkpoint.
        _ = FileManager.default.createFile(atPath: store.temporaryPath, contents: Data([1, 2, 3]))
        #expect(try await store.load() == Self.sample())
    }

    @Test func damagedFileIsAnErrorNamingThePath() async throws {
        let store = CheckpointStore(directory: Self.temporaryDirectory())
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        try FileManager.default.createDirectory(atPath: store.directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: store.path, contents: Data("garbage".utf8))
        let error = await #expect(throws: CheckpointError.self) { try await store.load() }
        #expect(error?.description.contains(store.path) == true)
    }
}
