// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "streamrec",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "streamrec", targets: ["streamrec"]),
        .library(name: "StreamRecKafka", targets: ["StreamRecKafka"]),
        .library(name: "StreamRecEngine", targets: ["StreamRecEngine"]),
        .library(name: "StreamRecService", targets: ["StreamRecService"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // librdkafka, found with pkg-config; the only C the project touches.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"]), .brew(["librdkafka"])]
        ),
        // The only module that calls C: producer, consumer, admin, embedded broker.
        .target(
            name: "StreamRecKafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Pure value code: events, model, recommendations, snapshot, evaluation. No I/O.
        .target(
            name: "StreamRecEngine",
            dependencies: []
        ),
        // The streaming service: pipeline, checkpoints, HTTP, config.
        .target(
            name: "StreamRecService",
            dependencies: [
                "StreamRecKafka",
                "StreamRecEngine",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "streamrec",
            dependencies: [
                "StreamRecKafka",
                "StreamRecEngine",
                "StreamRecService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(name: "StreamRecKafkaTests", dependencies: ["StreamRecKafka"]),
        .testTarget(name: "StreamRecEngineTests", dependencies: ["StreamRecEngine"], resources: [.copy("Resources")]),
        .testTarget(
            name: "StreamRecServiceTests",
            dependencies: [
                "StreamRecService", "StreamRecKafka", "StreamRecEngine",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ]
)

// One set of compiler settings for every Swift target (system libraries take none).
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
