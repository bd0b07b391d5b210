import Dispatch

extension DispatchQueue {
    /// Runs a blocking librdkafka call on this queue and resumes the caller with its result, so the call never
    /// occupies a thread of Swift's cooperative pool.
    func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            self.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
