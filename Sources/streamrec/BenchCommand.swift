import ArgumentParser

/// `streamrec bench`: benchmarks, one subcommand per area (`bench engine`, `bench kafka`, `bench pipeline`).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark (build with -c release first).",
        subcommands: [EngineBenchCommand.self]
    )
}
