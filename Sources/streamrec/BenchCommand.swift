import ArgumentParser

/// `streamrec bench …`: benchmarks, kept apart from the tests (which time nothing).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark. Build with `swift build -c release --product streamrec` first.",
        subcommands: [BenchKafkaCommand.self]
    )
}
