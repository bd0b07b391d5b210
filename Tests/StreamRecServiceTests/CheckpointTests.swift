import Foundation
import Synchronization
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
            createdAtMilliseconds: 1_732_550_400_000,
            pendingRefreshes: [
                ("user-7", .init(source: .init(topic: "events", partition: 5, offset: 6), eventTime: 1_732_550_399_000, recordTimestamp: 1_732_550_399_500)),
                ("user-1", .init(source: .init(topic: "events", partition: 0, offset: 41), eventTime: 1_732_550_398_000, recordTimestamp: nil)),
            ])
    }

    static func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "streamrec-checkpoint-\(UUID().uuidString)"
    }

    @Test func roundTripsThroughBytes() throws {
        let checkpoint = Self.sample()
        #expect(try Checkpoint(decoding: checkpoint.encoded()) == checkpoint)
        #expect(checkpoint.encoded() == checkpoint.encoded())
    }

    /// The checksum is the standard CRC-32 (IEEE): existing files must keep verifying. Every length from 0
    /// to 40 checks the eight-byte fast path and the byte-at-a-time tail against the bitwise definition.
    @Test func checksumIsStandardCRC32() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        func bitwise(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
            }
            return crc ^ 0xFFFF_FFFF
        }
        let bytes = (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 11) }
        for count in 0...bytes.count {
            #expect(CRC32.checksum(Array(bytes.prefix(count))) == bitwise(Array(bytes.prefix(count))))
            #expect(CRC32.checksum(bytes[1...].prefix(max(0, count - 1))) == bitwise(Array(bytes[1...].prefix(max(0, count - 1)))))
        }
    }

    /// The store writes the file in parts (header, snapshot, checksum) checksummed part by part: the same
    /// bytes as ``Checkpoint/encoded()``.
    @Test func storeWritesExactlyTheEncodedBytes() async throws {
        let bytes = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 89 &+ 5) }
        for split in [0, 1, 7, 8, 9, 50, 100] {
            #expect(CRC32.checksum(Array(bytes[split...]), continuing: CRC32.checksum(Array(bytes[..<split])))
                == CRC32.checksum(bytes))
        }
        let store = CheckpointStore(directory: Self.temporaryDirectory())
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        let checkpoint = Self.sample()
        try await store.save(checkpoint)
        #expect(FileManager.default.contents(atPath: store.path).map(Array.init) == checkpoint.encoded())
    }

    /// Files written before pending refreshes were checkpointed still load, with none owed.
    @Test func readsFormatVersion1WithoutPendingRefreshes() throws {
        var writer = ByteWriter()
        writer.bytes(Checkpoint.magic)
        writer.integer(UInt32(1))
        writer.integer(Int64(1_732_550_400_000))
        writer.integer(UInt32(1))
        writer.string("events")
        writer.integer(Int32(3))
        writer.integer(Int64(99))
        writer.integer(UInt32(1))
        writer.string("e1")
        writer.integer(UInt64(3))
        writer.bytes([1, 2, 3])
        writer.integer(CRC32.checksum(writer.buffer))
        let checkpoint = try Checkpoint(decoding: writer.buffer)
        #expect(checkpoint.nextOffsets == [KafkaTopicPartition(topic: "events", partition: 3): 99])
        #expect(checkpoint.recentEventIDs == ["e1"])
        #expect(checkpoint.engineSnapshot == [1, 2, 3])
        #expect(checkpoint.pendingRefreshes.isEmpty)
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

@Suite struct BackgroundThreadTests {
    /// The checkpoint writer's thread: jobs in order, one at a time, under its name, at a lower CPU priority
    /// than the caller's threads, whose own priority stays as it was.
    @Test func runsJobsInOrderOnOneThreadAtItsOwnNiceness() async {
        let callerNiceness = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        let thread = BackgroundThread(name: "test-writer", niceness: 5)
        let seen = Mutex<[(index: Int, niceness: Int32, thread: UInt, name: String)]>([])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for index in 0..<100 {
                thread.async {
                    let niceness = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
                    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
                    seen.withLock {
                        $0.append((index, niceness, UInt(bitPattern: Int(bitPattern: pthread_self())), name.trimmingCharacters(in: .newlines)))
                    }
                    if index == 99 { done.resume() }
                }
            }
        }
        let jobs = seen.withLock { $0 }
        #expect(jobs.map(\.index) == Array(0..<100))
        #expect(Set(jobs.map(\.thread)).count == 1)
        #expect(jobs.allSatisfy { $0.niceness == min(callerNiceness + 5, 19) })
        // Named, so `top -H` and a profile show which thread writes checkpoints.
        #expect(jobs.allSatisfy { $0.name == "test-writer" })
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) == callerNiceness)
    }
}

/// `CheckpointSchedule`: `checkpoint.interval` apart, further apart only when a checkpoint's CPU time times
/// ``CheckpointSchedule/cpuShareDivisor`` exceeds it.
@Suite struct CheckpointScheduleTests {
    @Test func cheapCheckpointsAreExactlyTheIntervalApart() {
        let start = ContinuousClock.now
        var schedule = CheckpointSchedule(interval: .seconds(5), start: start)
        #expect(!schedule.isDue(at: start + .milliseconds(4_999)))
        #expect(schedule.isDue(at: start + .seconds(5)))
        schedule.started(at: start + .seconds(5))
        // A checkpoint of at most interval / cpuShareDivisor CPU time leaves the interval as it is.
        schedule.finished(cpuTime: .seconds(5) / CheckpointSchedule.cpuShareDivisor)
        #expect(!schedule.isDue(at: start + .milliseconds(9_999)))
        #expect(schedule.isDue(at: start + .seconds(10)))
    }

    @Test func anExpensiveCheckpointDelaysTheNextToBoundTheirCPUShare() {
        let start = ContinuousClock.now
        var schedule = CheckpointSchedule(interval: .seconds(5), start: start)
        schedule.started(at: start + .seconds(5))
        schedule.finished(cpuTime: .milliseconds(450))
        let spacing = Duration.milliseconds(450) * CheckpointSchedule.cpuShareDivisor
        #expect(spacing > .seconds(5))
        #expect(!schedule.isDue(at: start + .seconds(5) + spacing - .milliseconds(1)))
        #expect(schedule.isDue(at: start + .seconds(5) + spacing))
        // Cheap again (a smaller state): back to the interval.
        schedule.started(at: start + .seconds(20))
        schedule.finished(cpuTime: .milliseconds(100))
        #expect(!schedule.isDue(at: start + .milliseconds(24_999)))
        #expect(schedule.isDue(at: start + .seconds(25)))
    }
}
