import ArgumentParser

@main
struct StreamRec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streamrec",
        abstract: "An event-driven streaming recommender on Kafka.",
        subcommands: [EvaluateCommand.self, BenchCommand.self]
    )
}
