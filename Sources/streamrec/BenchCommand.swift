import ArgumentParser

/// `streamrec bench …`: benchmarks, one subcommand per area, kept apart from the tests (which time nothing).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark. Build with `swift build -c release --product streamrec` first.",
        subcommands: [BenchKafkaCommand.self, EngineBenchCommand.self, BenchPipelineCommand.self]
    )
}
