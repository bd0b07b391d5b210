#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import Synchronization

/// Forwards TCP connections from a fixed loopback port to the embedded cluster's brokers.
///
/// librdkafka's mock brokers only listen on ephemeral ports; this gives users a stable bootstrap address
/// (`127.0.0.1:9092`). Only bootstrapping goes through it: metadata then points clients at the brokers' own
/// ports. Each connection is pumped by two threads (one per direction); the traffic is small.
final class PortForwarder: Sendable {
    /// A bound, listening socket.
    struct Listener: Sendable {
        let descriptor: Int32
        let port: Int

        init(port: Int) throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw Self.error(port: port, call: "socket") }
            var reuse: Int32 = 1
            // Lets a restarted broker rebind while old connections sit in TIME_WAIT; a live listener still conflicts.
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
            var address = Self.loopback(port: port)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0, listen(descriptor, 64) == 0 else {
                let failure = errno
                close(descriptor)
                if failure == EADDRINUSE {
                    throw KafkaError(
                        code: .portInUse,
                        reason: "port \(port) on 127.0.0.1 is already in use: stop the process using it "
                            + "(`ss -ltnp 'sport = :\(port)'`) or choose another --port")
                }
                throw Self.error(port: port, call: "bind/listen", errorNumber: failure)
            }
            self.descriptor = descriptor
            self.port = port
        }

        static func loopback(port: Int) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(clamping: port).bigEndian)
            address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
            return address
        }

        private static func error(port: Int, call: String, errorNumber: Int32 = errno) -> KafkaError {
            KafkaError(code: .invalidArgument, reason: "port \(port): \(call) failed: \(String(cString: strerror(errorNumber)))")
        }
    }

    private let listener: Listener
    private let targetPorts: [Int]
    private let logger: Logger
    private let isStopped = Atomic<Bool>(false)
    /// Open connection sockets, shut down on stop so their pump threads end.
    private let openDescriptors = Mutex<Set<Int32>>([])

    init(listener: Listener, targetPorts: [Int], logger: Logger) {
        self.listener = listener
        self.targetPorts = targetPorts
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "streamrec.kafka.forwarder:\(listener.port)"
        thread.start()
    }

    func stop() {
        guard !isStopped.exchange(true, ordering: .relaxed) else { return }
        // Wakes the accept loop, which closes the listener.
        shutdown(listener.descriptor, Int32(SHUT_RDWR))
        for descriptor in openDescriptors.withLock({ $0 }) { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        defer { close(listener.descriptor) }
        while !isStopped.load(ordering: .relaxed) {
            let client = accept(listener.descriptor, nil, nil)
            guard client >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            guard let upstream = connectToBroker() else {
                logger.warning("no embedded broker accepted a forwarded connection", metadata: ["kafka.port": "\(listener.port)"])
                close(client)
                continue
            }
            let connection = Connection(client: client, upstream: upstream, forwarder: self)
            openDescriptors.withLock { $0.formUnion([client, upstream]) }
            for (source, destination) in [(client, upstream), (upstream, client)] {
                Thread { connection.pump(from: source, to: destination) }.start()
            }
        }
    }

    /// The first broker that accepts, so bootstrapping survives a broker taken down by a test.
    private func connectToBroker() -> Int32? {
        for port in targetPorts {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { return nil }
            var address = Listener.loopback(port: port)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if connected == 0 { return descriptor }
            close(descriptor)
        }
        return nil
    }

    fileprivate func forget(_ descriptors: [Int32]) {
        openDescriptors.withLock { $0.subtract(descriptors) }
    }

    /// One forwarded connection; its two sockets close when both directions have ended.
    private final class Connection: Sendable {
        let client: Int32
        let upstream: Int32
        let forwarder: PortForwarder
        private let runningPumps = Mutex(2)

        init(client: Int32, upstream: Int32, forwarder: PortForwarder) {
            self.client = client
            self.upstream = upstream
            self.forwarder = forwarder
        }

        func pump(from source: Int32, to destination: Int32) {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            copying: while true {
                let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                var written = 0
                while written < count {
                    let result = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + written, count - written) }
                    if result < 0, errno == EINTR { continue }
                    guard result > 0 else { break copying }
                    written += result
                }
            }
            // Pass the end on: the peer sees EOF, and the other pump ends when its side does.
            shutdown(destination, Int32(SHUT_WR))
            shutdown(source, Int32(SHUT_RD))
            let isLast = runningPumps.withLock { running in
                running -= 1
                return running == 0
            }
            if isLast {
                forwarder.forget([client, upstream])
                close(client)
                close(upstream)
            }
        }
    }
}
