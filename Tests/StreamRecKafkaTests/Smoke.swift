import Testing
import StreamRecKafka
@Test func linksLibrdkafka() { #expect(librdkafkaVersion.hasPrefix("2.")) }
