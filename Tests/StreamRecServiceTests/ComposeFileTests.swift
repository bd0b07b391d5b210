import Foundation
import Testing
import Yams
@testable import StreamRecService

@Suite struct ComposeFileTests {
    static var composePath: String { RepositoryRoot.path + "/docker-compose.yml" }
    static let hasDockerCompose = FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-compose")
        || FileManager.default.isExecutableFile(atPath: "/usr/local/bin/docker-compose")

    @Test(.enabled(if: hasDockerCompose, "docker-compose is not installed (make deps installs it)"))
    func dockerComposeAcceptsTheFile() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker-compose", "-f", Self.composePath, "config", "-q"]
        process.currentDirectoryURL = URL(fileURLWithPath: RepositoryRoot.path)
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "docker-compose config: \(message)")
    }

    @Test func everythingTheFileRefersToExists() throws {
        let text = try String(contentsOfFile: Self.composePath, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        let services = try #require(root["services"] as? [String: Any])
        #expect(Set(services.keys) == ["kafka", "create-topics", "streamrec"])

        let streamrec = try #require(services["streamrec"] as? [String: Any])
        let build = try #require(streamrec["build"] as? [String: Any])
        let context = RepositoryRoot.path + "/" + (build["context"] as? String ?? ".")
        let dockerfile = context + "/" + (build["dockerfile"] as? String ?? "Dockerfile")
        #expect(FileManager.default.fileExists(atPath: dockerfile))
        let dockerfileText = try String(contentsOfFile: dockerfile, encoding: .utf8)
        for line in dockerfileText.split(separator: "\n") where line.hasPrefix("COPY ") && !line.contains("--from") {
            let sourcePath = line.split(separator: " ")[1]
            #expect(FileManager.default.fileExists(atPath: context + "/" + sourcePath), "Dockerfile copies missing \(sourcePath)")
        }

        // Bind-mounted host files exist.
        for case let volume as String in streamrec["volumes"] as? [Any] ?? [] where volume.hasPrefix("./") {
            let hostPath = String(volume.split(separator: ":")[0])
            #expect(FileManager.default.fileExists(atPath: RepositoryRoot.path + "/" + hostPath), "missing \(hostPath)")
        }

        // The service's settings are valid streamrec configuration.
        var sources = ConfigurationSources()
        try sources.addFile(at: RepositoryRoot.path + "/config/streamrec.yaml")
        let environment = try #require(streamrec["environment"] as? [String: Any]).mapValues { "\($0)" }
        for name in environment.keys {
            #expect(ConfigurationSources.keys.contains { ConfigurationSources.environmentName(of: $0.key) == name }, "unknown \(name)")
        }
        sources.addEnvironment(environment)
        let configuration = try sources.resolve()
        #expect(configuration.http.host == "0.0.0.0")

        // Topics the job creates are the ones the service uses, with the partitioning the docs promise.
        let job = try #require(services["create-topics"] as? [String: Any])
        let script = (job["command"] as? [String])?.joined(separator: "\n") ?? ""
        #expect(script.contains("--topic \(configuration.kafka.inputTopic) --partitions 6"))
        #expect(script.contains("--topic \(configuration.kafka.outputTopic) ") && script.contains("cleanup.policy=compact"))
        #expect(script.contains("--topic \(configuration.kafka.deadLetterTopic) "))
    }
}
