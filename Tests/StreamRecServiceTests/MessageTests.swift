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
    /// Strings that need every kind of escape, and numbers at the edges of `Double`'s shortest form.
    static let trickyStrings = [
        "", "plain", "quote \" backslash \\ slash /", "\u{00}\u{01}\u{08}\u{0B}\u{0C}\u{1F}\u{7F}", "\t\n\r",
        "é ü 中文 🛒 👩‍👩‍👧", "\u{2028}\u{2029}", String(repeating: "\"", count: 300), String(repeating: "x", count: 5000),
    ]
    static let trickyScores: [Double] = [
        0, -0.0, 1, -1, 0.5, 0.1, 1.0 / 3, 0.812_345_678_9, 1e15, 1e16, 1e17, 123_456_789_012_345_680, 1e-5, 1e-7,
        1.2345678901234567e-7, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
        Double(Float.pi), 2.5e-308, 9_007_199_254_740_992,
    ]

    @Test func writesWhatJSONEncoderWritesForTrickyStringsAndNumbers() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for (index, text) in Self.trickyStrings.enumerated() {
            let message = RecommendationMessage(
                userID: text,
                recommendations: Self.trickyScores.map { score in
                    Recommendation(
                        itemID: text + "-item", score: score,
                        reasons: [Reason(kind: "co_click", itemID: text), Reason(kind: "query", query: text), Reason(kind: "popular")])
                },
                eventTime: index.isMultiple(of: 2) ? .min : .max, generatedAt: -Int64(index),
                source: .init(topic: text, partition: index.isMultiple(of: 2) ? .min : .max, offset: Int64(index)))
            let bytes = message.encoded()
            #expect(bytes == Array(try encoder.encode(message)), "text #\(index)")
            #expect(try RecommendationMessage(decoding: bytes) == message, "text #\(index)")
        }
    }

    @Test func encodesTheEnginesRecommendationsLikeItsOwnItems() {
        let recommendations = Self.trickyScores.enumerated().map { index, score in
            Recommendation(itemID: Self.trickyStrings[index % Self.trickyStrings.count], score: score,
                           reasons: index.isMultiple(of: 3) ? [] : [Reason(kind: "semantic"), Reason(kind: "co_view", itemID: "sku-\(index)")])
        }
        let message = RecommendationMessage(
            userID: "u", recommendations: recommendations, eventTime: 1, generatedAt: 2,
            source: .init(topic: "events", partition: 0, offset: 3))
        let empty = RecommendationMessage(
            userID: "u", recommendations: [], eventTime: 1, generatedAt: 2, source: .init(topic: "events", partition: 0, offset: 3))
        #expect(empty.encoded(items: recommendations) == message.encoded())
        #expect(empty.encoded() == Array(#"{"event_time":1,"generated_at":2,"items":[],"model_version":"\#(StreamRecService.modelVersion)","source":{"offset":3,"partition":0,"topic":"events"},"user_id":"u"}"#.utf8))
    }

    /// The pipeline encodes a slice's messages through one scratch buffer, which grows for a message larger
    /// than it: each message's bytes are still what `JSONEncoder` writes for it, whatever came before it
    /// (larger, smaller, escaped).
    @Test func oneEncoderWritesEachMessageAsJSONEncoderDoes() throws {
        let jsonEncoder = JSONEncoder()
        jsonEncoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var encoder = RecommendationMessageEncoder()
        let texts = Self.trickyStrings + Self.trickyStrings.reversed()
        for (index, text) in texts.enumerated() {
            let recommendations = (0..<(index % 5) * 7).map { rank in
                Recommendation(
                    itemID: text + "-\(rank)", score: Self.trickyScores[rank % Self.trickyScores.count],
                    reasons: rank.isMultiple(of: 2) ? [Reason(kind: "query", query: text)] : [Reason(kind: "popular")])
            }
            let message = RecommendationMessage(
                userID: text, recommendations: [], eventTime: Int64(index), generatedAt: 2,
                source: .init(topic: "events", partition: 1, offset: Int64(index)))
            let alone = RecommendationMessage(
                userID: text, recommendations: recommendations, eventTime: Int64(index), generatedAt: 2,
                source: .init(topic: "events", partition: 1, offset: Int64(index)))
            #expect(encoder.encode(message, items: recommendations) == Array(try jsonEncoder.encode(alone)), "message #\(index)")
        }
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
