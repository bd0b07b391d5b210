import Dispatch
import Foundation

/// The checkpoint file in the state directory, replaced atomically: write a temporary file, fsync it,
/// rename it over the old one, fsync the directory. A crash at any point leaves either the old or the new
/// checkpoint, never a mix.
public struct CheckpointStore: Sendable {
    public let directory: String
    public var path: String { directory + "/checkpoint.bin" }
    var temporaryPath: String { directory + "/checkpoint.bin.tmp" }

    // File writes and fsync block for as long as the disk takes, so they run off the cooperative pool.
    private static let queue = DispatchQueue(label: "streamrec.checkpoint-io")

    public init(directory: String) {
        self.directory = directory
    }

    /// The checkpoint on disk, or nil when there is none yet.
    public func load() async throws -> Checkpoint? {
        try await Self.offPool { [path] () throws -> Checkpoint? in
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CheckpointError("cannot read \(path)")
            }
            do throws(CheckpointError) {
                return try Checkpoint(decoding: Array(data))
            } catch {
                throw CheckpointError("\(path): \(error.reason); move it away to start from Kafka offsets")
            }
        }
    }

    /// Makes `checkpoint` durable; returns once it is on disk.
    public func save(_ checkpoint: Checkpoint) async throws {
        try await Self.offPool { [self] in try persist(checkpoint) }
    }

    /// Encodes and makes `checkpoint` durable on the calling thread, which it blocks until the disk is done:
    /// call it from a dispatch queue (``save(_:)`` or ``CheckpointWriter``), never from the cooperative pool.
    func persist(_ checkpoint: Checkpoint) throws {
        // The bytes of `Checkpoint.encoded()`, written in parts: the snapshot is not copied once more.
        let header = checkpoint.encodedHeader()
        let checksum = CRC32.checksum(checkpoint.engineSnapshot, continuing: CRC32.checksum(header))
        let trailer = withUnsafeBytes(of: checksum.littleEndian) { Array($0) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.writeSynced([header, checkpoint.engineSnapshot, trailer], to: temporaryPath)
        guard rename(temporaryPath, path) == 0 else { throw Self.posixError("rename \(temporaryPath)") }
        try Self.syncDirectory(directory)
    }

    private static func writeSynced(_ parts: [[UInt8]], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw posixError("open \(path)") }
        defer { close(descriptor) }
        for bytes in parts {
            var written = 0
            while written < bytes.count {
                let result = bytes.withUnsafeBytes { buffer in
                    write(descriptor, buffer.baseAddress! + written, bytes.count - written)
                }
                if result < 0 {
                    if errno == EINTR { continue }
                    throw posixError("write \(path)")
                }
                written += result
            }
        }
        guard fsync(descriptor) == 0 else { throw posixError("fsync \(path)") }
    }

    /// Makes the rename itself durable.
    private static func syncDirectory(_ directory: String) throws {
        let descriptor = open(directory, O_RDONLY)
        guard descriptor >= 0 else { throw posixError("open \(directory)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw posixError("fsync \(directory)") }
    }

    private static func posixError(_ what: String) -> CheckpointError {
        CheckpointError("\(what): \(String(cString: strerror(errno)))")
    }

    private static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
