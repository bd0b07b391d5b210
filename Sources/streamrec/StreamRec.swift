import ArgumentParser

@main
struct StreamRec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streamrec",
        abstract: "An event-driven streaming recommender on Kafka.",
        subcommands: [
            ServeCommand.self, ReplayCommand.self, SubscribeCommand.self, DemoCommand.self, BrokerCommand.self,
            BenchCommand.self, EvaluateCommand.self,
        ]
    )
}
