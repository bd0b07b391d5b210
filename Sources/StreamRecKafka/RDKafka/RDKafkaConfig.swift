import CRdKafka

/// Owns an `rd_kafka_conf_t` until `rd_kafka_new` takes it over.
final class RDKafkaConfig {
    /// `nil` once ownership moved to a client.
    private var pointer: OpaquePointer?

    init(properties: [String: String]) throws {
        pointer = rd_kafka_conf_new()
        // Sorted so errors are reported in a stable order.
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            try set(key, value)
        }
    }

    deinit {
        if let pointer { rd_kafka_conf_destroy(pointer) }
    }

    func set(_ key: String, _ value: String) throws {
        var errorText = [CChar](repeating: 0, count: 512)
        let result = rd_kafka_conf_set(pointer, key, value, &errorText, errorText.count)
        guard result == RD_KAFKA_CONF_OK else {
            let shownValue = Self.isSecret(key) ? "<redacted>" : "'\(value)'"
            throw KafkaError(
                code: .configuration,
                reason: "librdkafka rejected property '\(key)' = \(shownValue): \(String(errorBuffer: errorText)). "
                    + "Fix or remove the key (see librdkafka CONFIGURATION.md)."
            )
        }
    }

    /// Scoped access for the `rd_kafka_conf_set_*` callback setters; do not let the pointer escape.
    func withPointer<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        try body(pointer!)
    }

    /// Gives the configuration to `rd_kafka_new`, which frees it only when it succeeds; on failure it stays ours
    /// and `deinit` frees it.
    func createClient(type: rd_kafka_type_t) throws -> OpaquePointer {
        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, pointer, &errorText, errorText.count) else {
            throw KafkaError(code: .configuration, reason: "rd_kafka_new failed: \(String(errorBuffer: errorText))")
        }
        pointer = nil
        return handle
    }

    private static func isSecret(_ key: String) -> Bool {
        key.contains("password") || key.contains("secret") || key.hasSuffix(".key.pem")
    }
}
