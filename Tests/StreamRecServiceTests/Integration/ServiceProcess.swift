import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The built `streamrec` binary run as a child process, so a test can SIGKILL or SIGTERM it while the
/// broker (in the test process) lives on. Its stderr goes to a log file the test can read.
final class ServiceProcess: @unchecked Sendable {
    let process = Process()
    let logPath: String

    /// `streamrec` next to the test bundle in the build folder (`swift test` builds it).
    static var binaryPath: String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // Inside a bundle (…/streamrecPackageTests.xctest/Contents/MacOS/…) walk up to the build folder.
        while directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("streamrec").path
    }

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binaryPath) else {
            throw HarnessError("no streamrec binary at \(Self.binaryPath); run `swift build` first")
        }
        logPath = NSTemporaryDirectory() + "streamrec-test-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binaryPath)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: logPath)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The HTTP port from the "HTTP listening" log line.
    func httpPort(timeout: Duration = .seconds(30)) async throws -> Int {
        try await eventually("HTTP listening in the log", timeout: timeout) {
            guard let range = self.log.range(of: #"streamrec.address=[0-9.]+:([0-9]+)"#, options: .regularExpression) else {
                return nil
            }
            return Int(self.log[range].split(separator: ":").last!)
        }
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// The exit status, or nil if it is still running after `timeout`.
    func waitForExit(timeout: Duration) async -> (status: Int32, bySignal: Bool)? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls `check` every 50 ms until it returns a value; throws after `timeout` naming what was awaited.
func eventually<T>(
    _ what: String, timeout: Duration, _ check: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await check() { return value }
        if ContinuousClock.now >= deadline { throw HarnessError("timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(50))
    }
}

/// GET on 127.0.0.1; returns status and body.
func httpGet(port: Int, path: String) async throws -> (status: Int, body: String) {
    let url = URL(string: "http://127.0.0.1:\(port)\(path)")!
    let (data, response) = try await URLSession.shared.data(from: url)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}

/// Runs a command to completion and returns its exit status, stdout and (when asked) stderr.
func runToCompletion(
    _ executable: String, _ arguments: [String], captureStandardError: Bool = false
) throws -> (status: Int32, output: String, errors: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = captureStandardError ? errors : FileHandle.nullDevice
    try process.run()
    // Drained concurrently so a full stderr pipe cannot block the child while stdout is read.
    let errorData = Mutex(Data())
    let errorReader = Thread {
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        errorData.withLock { $0 = data }
    }
    if captureStandardError { errorReader.start() }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    if captureStandardError { while !errorReader.isFinished { Thread.sleep(forTimeInterval: 0.01) } }
    return (process.terminationStatus, String(decoding: data, as: UTF8.self),
            errorData.withLock { String(decoding: $0, as: UTF8.self) })
}
