import Foundation
import StreamRecEngine
import StreamRecKafka
import Testing
@testable import StreamRecService

@Suite struct RecommendationMessageTests {
    @Test func encodesTheDocumentedShape() throws {
        let message = RecommendationMessage(
            userID: "u1",
            recommendations: [Recommendation(itemID: "sku-2", score: 0.5, reasons: [])],
            eventTime: 1_732_550_405_000, generatedAt: 1_732_550_405_120,
            source: .init(topic: "events", partition: 3, offset: 17))
        let bytes = message.encoded()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(Set(object.keys) == ["user_id", "items", "event_time", "generated_at", "model_version", "source"])
        #expect(object["user_id"] as? String == "u1")
        #expect(object["event_time"] as? Int == 1_732_550_405_000)
        let source = try #require(object["source"] as? [String: Any])
        #expect(source["topic"] as? String == "events")
        #expect(source["partition"] as? Int == 3)
        #expect(source["offset"] as? Int == 17)
        let items = try #require(object["items"] as? [[String: Any]])
        #expect(items.first?["item_id"] as? String == "sku-2")
        #expect(items.first?["score"] as? Double == 0.5)
        #expect(try RecommendationMessage(decoding: bytes) == message)
    }

    @Test func escapesAnyTextAndReadsBackExactly() throws {
        let text = "quote \" backslash \\ slash / tab \t newline \n return \r bell \u{07} \u{1F} é 🛒"
        let message = RecommendationMessage(
            userID: text,
            recommendations: [
                Recommendation(
                    itemID: "sku-\"1\"", score: 1,
                    reasons: [Reason(kind: "co_click", itemID: "a/b"), Reason(kind: "query", query: text)]),
                Recommendation(itemID: "sku-2", score: 1.2345678901234567e-7, reasons: [Reason(kind: "popular")]),
            ],
            eventTime: -1, generatedAt: .max, source: .init(topic: text, partition: .max, offset: .min))
        #expect(try RecommendationMessage(decoding: message.encoded()) == message)
    }

    @Test func writesTheSameBytesAsJSONEncoderWithSortedKeys() throws {
        let message = RecommendationMessage(
            userID: "user-7",
            recommendations: [
                Recommendation(itemID: "sku-1", score: 0.812_345_678_9, reasons: [Reason(kind: "co_click", itemID: "sku-9"), Reason(kind: "semantic")]),
                Recommendation(itemID: "sku-2", score: 1, reasons: [Reason(kind: "query", query: "trail shoes")]),
                Recommendation(itemID: "sku-3", score: 0, reasons: []),
            ],
            eventTime: 1_732_550_405_000, generatedAt: 1_732_550_405_120,
            source: .init(topic: "events", partition: 3, offset: 17))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(message.encoded() == Array(try encoder.encode(message)))
    }
}

@Suite struct DeadLetterTests {
    static func record(value: [UInt8]?, headers: [KafkaHeader] = []) -> KafkaRecord {
        KafkaRecord(
            topic: "events", partition: 4, offset: 99, key: Array("u1".utf8), value: value, headers: headers,
            timestampMilliseconds: 1)
    }

    @Test func keepsOriginalBytesAndAddsReasonAndSource() {
        let original: [UInt8] = [0xFF, 0x00, 0x7B, 0xC3]
        let letter = DeadLetter(
            rejecting: Self.record(value: original, headers: [KafkaHeader(key: "trace", value: [1])]),
            reason: "invalid UTF-8", field: "user_id")
        #expect(letter.value == original)
        #expect(letter.key == Array("u1".utf8))
        #expect(letter.headers.first == KafkaHeader(key: "trace", value: [1]))
        #expect(DeadLetter.header(DeadLetter.reasonHeader, in: letter.headers) == "invalid UTF-8")
        #expect(DeadLetter.header(DeadLetter.fieldHeader, in: letter.headers) == "user_id")
        #expect(DeadLetter.header(DeadLetter.topicHeader, in: letter.headers) == "events")
        #expect(DeadLetter.header(DeadLetter.partitionHeader, in: letter.headers) == "4")
        #expect(DeadLetter.header(DeadLetter.offsetHeader, in: letter.headers) == "99")
    }

    @Test func boundsHugeReasons() {
        let letter = DeadLetter(rejecting: Self.record(value: nil), reason: String(repeating: "x", count: 1 << 20), field: nil)
        let reason = DeadLetter.header(DeadLetter.reasonHeader, in: letter.headers)
        #expect(reason?.utf8.count == DeadLetter.maximumReasonBytes)
        #expect(DeadLetter.header(DeadLetter.fieldHeader, in: letter.headers) == nil)
    }

    @Test func cutsOnlyValuesTooLargeForKafkaAndSaysSo() {
        let huge = [UInt8](repeating: 0x61, count: 1 << 20)
        let letter = DeadLetter(rejecting: Self.record(value: huge), reason: "too long", field: "user_id")
        #expect(letter.value == Array(huge.prefix(DeadLetter.maximumValueBytes)))
        #expect(DeadLetter.header(DeadLetter.originalSizeHeader, in: letter.headers) == String(1 << 20))
        let small = DeadLetter(rejecting: Self.record(value: [1, 2]), reason: "bad", field: nil)
        #expect(DeadLetter.header(DeadLetter.originalSizeHeader, in: small.headers) == nil)
    }
}
