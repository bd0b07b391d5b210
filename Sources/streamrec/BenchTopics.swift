import StreamRecKafka

/// The topics and consumer groups of one `bench pipeline` run, named `bench-RUNID-…` so runs against a shared
/// cluster neither read each other's records nor join each other's groups.
struct BenchTopics {
    let runID: String
    /// Partitions of every input and output topic (the dead-letter topic has 1).
    let partitions: Int

    var passIn: String { name("pass-in") }
    var passOut: String { name("pass-out") }
    var serveIn: String { name("serve-in") }
    var serveOut: String { name("serve-out") }
    var latencyIn: String { name("latency-in") }
    var latencyOut: String { name("latency-out") }
    var deadLetters: String { name("dlq") }

    func name(_ role: String) -> String { "bench-\(runID)-\(role)" }

    /// Every topic with the partition count the run needs.
    var all: [(name: String, partitions: Int)] {
        [passIn, passOut, serveIn, serveOut, latencyIn, latencyOut].map { ($0, partitions) } + [(deadLetters, 1)]
    }

    /// Creates the topics the cluster lacks, then checks that it reports each with the partitions the run needs.
    ///
    /// A cluster that cannot create them may have them already: librdkafka's mock in another process (such as
    /// `streamrec broker`) has no CreateTopics, and its admin request waits for its timeout unanswered.
    func prepare(admin: KafkaAdmin) async throws {
        let existing = try await admin.listTopics()
        var createErrors: [String: KafkaError] = [:]
        for topic in all where existing[topic.name] == nil {
            do {
                try await admin.createTopic(topic.name, partitions: topic.partitions)
            } catch let error as KafkaError {
                // A cluster that refused one topic refuses the rest, each after the same wait.
                createErrors[topic.name] = error
                break
            }
        }
        // A real cluster answers CreateTopics before every broker's metadata has the new topics.
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let problems = problems(listed: try await admin.listTopics(), createErrors: createErrors)
            if problems.isEmpty { return }
            let onlyPropagating = problems.allSatisfy { $0.isMissing && createErrors[$0.topic] == nil }
            guard onlyPropagating, ContinuousClock.now < deadline else { throw BenchTopicsError(topics: self, problems: problems) }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The run's topics the cluster lacks or has with other partition counts than the run needs.
    func problems(listed: [String: Int], createErrors: [String: KafkaError] = [:]) -> [BenchTopicProblem] {
        all.compactMap { topic in
            let found = listed[topic.name]
            guard found != topic.partitions else { return nil }
            return BenchTopicProblem(
                topic: topic.name, needed: topic.partitions, found: found, createError: createErrors[topic.name])
        }
    }
}

struct BenchTopicProblem {
    let topic: String
    let needed: Int
    /// Partitions the cluster reports; `nil`: no such topic.
    let found: Int?
    let createError: KafkaError?

    var isMissing: Bool { found == nil }

    var description: String {
        let state = found.map { "has \($0) partition\($0 == 1 ? "" : "s")" } ?? "does not exist"
        let creation = createError.map { " (creating it failed: \($0.reason))" } ?? ""
        return "topic \(topic) \(state), the run needs \(needed)\(creation)"
    }
}

/// The cluster's topics do not fit the run; says how to make them.
struct BenchTopicsError: Error, CustomStringConvertible {
    let topics: BenchTopics
    let problems: [BenchTopicProblem]

    var description: String {
        let specifications = topics.all.map { "--topic \($0.name):\($0.partitions)" }.joined(separator: " ")
        return problems.map(\.description).joined(separator: "\n") + "\n"
            + "Use a --run-id whose topics do not exist yet on a cluster that creates topics, or create them "
            + "empty with these partition counts and pass --run-id \(topics.runID); for `streamrec broker` "
            + "(librdkafka's mock cannot create topics on request): streamrec broker \(specifications)"
    }
}
