import StreamRecEngine

/// Every setting of `streamrec serve`, typed and validated. Defaults are documented here and in
/// `config/streamrec.yaml`; sources are layered by ``ConfigurationSources`` (flags over `STREAMREC_*`
/// environment variables over the YAML file over defaults).
public struct ServiceConfiguration: Sendable, Equatable {
    /// Where to start reading when the state directory holds no checkpoint.
    public enum StartPosition: Sendable, Equatable {
        /// The consumer group's committed offsets (new partitions start at the earliest offset).
        case committed
        /// The start of each partition: rebuilds state from the whole topic history.
        case earliest
        /// The first event at or after this time, in milliseconds since the epoch.
        case time(milliseconds: Int64)
    }

    public struct Kafka: Sendable, Equatable {
        /// Bootstrap servers, `host:port[,host:port...]`. Default `localhost:9092`.
        public var brokers = "localhost:9092"
        /// Events in. Default `events`.
        public var inputTopic = "events"
        /// Recommendations out, keyed by user. Default `recommendations`.
        public var outputTopic = "recommendations"
        /// Dead letters: undecodable or invalid events with the reason in headers. Default `events.dlq`.
        public var deadLetterTopic = "events.dlq"
        /// Consumer group id. Default `streamrec`.
        public var group = "streamrec"
        /// Where to start without a checkpoint. Default `committed`.
        public var startPosition = StartPosition.committed
        /// Whether `serve` creates the output topic (compacted) and the dead-letter topic at start when the
        /// cluster lacks them. Default true.
        public var createTopics = true
        /// Extra librdkafka properties passed through unchanged. Default none.
        public var properties: [String: String] = [:]
    }

    public struct Pipeline: Sendable, Equatable {
        /// Most events taken from the consumer per batch. Default 2000.
        public var maxBatchEvents = 2000
        /// Most events per batch while behind: after each full poll the next may take twice as many, up to
        /// this; a poll that is not full returns to `maxBatchEvents`. Larger batches coalesce more users
        /// (one recommendation per user per batch) at the price of a longer batch. Default 16000.
        public var maxBacklogBatchEvents = 16_000
        /// Longest wait for the first event of a batch. Default 100 ms.
        public var pollTimeout = Duration.milliseconds(100)
        /// Recommendations per published message. Default 20.
        public var recommendationsPerUser = 20
        /// Producer messages in flight above which the input partitions are paused. Default 50000.
        public var maxInFlightMessages = 50_000
        /// How many recent `event_id`s are remembered to drop duplicates. Default 100000.
        public var deduplicationWindow = 100_000
        /// While behind (a poll returns at least `maxBatchEvents` records, or the broker held at least that many
        /// unread records at the last fetch), users' refreshes wait and coalesce
        /// (one recommendation for all their events in the backlog) for at most this long before a flush;
        /// caught up, every batch is refreshed as it comes. Zero refreshes every batch. Default 30 s.
        public var coalesceMaxDelay = Duration.seconds(30)
        /// Most users whose refresh may wait while behind; reaching it flushes them. Default 250000.
        public var coalesceMaxUsers = 250_000
    }

    public struct Checkpoint: Sendable, Equatable {
        /// Directory holding the checkpoint file. Default `./state`.
        public var stateDirectory = "./state"
        /// Longest time between checkpoints (offsets are committed only at checkpoints). Default 5 s.
        public var interval = Duration.seconds(5)
    }

    public struct HTTP: Sendable, Equatable {
        /// Whether the HTTP server runs. Default true.
        public var isEnabled = true
        /// Bind address. Default `127.0.0.1` (loopback only).
        public var host = "127.0.0.1"
        /// Port; 0 picks a free one. Default 8080.
        public var port = 8080
    }

    public var kafka = Kafka()
    public var pipeline = Pipeline()
    /// The engine's settings (`engine.config_file`, the format `evaluate --config` reads). Default: the engine's
    /// defaults.
    public var engine = EngineConfiguration()
    /// What published recommendations (and, unless a request says otherwise, the HTTP endpoint) leave out and
    /// how diverse they are (`recommendations.*`). Default: purchased items left out, nothing else.
    public var filters = RecommendationFilters()
    public var checkpoint = Checkpoint()
    public var http = HTTP()
    /// Log level: trace, debug, info, notice, warning, error, critical. Default `info`.
    public var logLevel = "info"

    public init() {}
}

/// A configuration value that is missing its mark: names the key, the value and what is allowed.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public var key: String
    public var value: String
    public var allowed: String
    /// Where the value came from: a file path, an environment variable or a flag.
    public var source: String

    public var description: String {
        "invalid configuration \(key)=\"\(value)\" (from \(source)): expected \(allowed)"
    }
}
