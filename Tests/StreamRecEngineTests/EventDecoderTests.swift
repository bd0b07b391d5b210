import Testing
@testable import StreamRecEngine

@Suite struct EventDecoderTests {
    private func decode(_ text: String) throws(EventDecodingError) -> Event {
        try EventDecoder.decode(Array(text.utf8))
    }

    private func field(of text: String) -> String? {
        do {
            _ = try decode(text)
            return "decoded"
        } catch {
            return error.field ?? "<document>"
        }
    }

    @Test func decodesTheSchemaExamples() throws {
        let search = try decode(
            #"{"event_id":"e1","type":"search","user_id":"u1","session_id":"s1","query":"trail running shoes","timestamp":1732550400000}"#
        )
        #expect(search == Event(eventID: "e1", type: .search, userID: "u1", sessionID: "s1",
                                query: "trail running shoes", timestampMilliseconds: 1_732_550_400_000))
        let click = try decode(
            #" {"event_id":"e2","type":"click","user_id":"u1","item_id":"sku-42","query":"trail","timestamp":1732550405000,"extra":{"a":[1,2,{"b":null}],"c":true}} "#
        )
        #expect(click.itemID == "sku-42")
        #expect(click.sessionID == nil)
        #expect(click.effectiveSessionID == "u1")
        let item = try decode(
            #"{"type":"item","item_id":"sku-1","title":"Caf\u00e9 \"cr\u00e8me\" \ud83d\ude00","category":"shoes","tags":["a","b"],"timestamp":"2024-11-25T16:00:00.5+01:00"}"#
        )
        #expect(item.title == "Café \"crème\" 😀")
        #expect(item.tags == ["a", "b"])
        #expect(item.timestampMilliseconds == 1_732_546_800_500)
        #expect(item.userID == nil)
    }

    @Test func itemAvailabilityIsABooleanOrNull() throws {
        let base = #"{"type":"item","item_id":"sku-1","timestamp":1,"available":"#
        #expect(try decode(base + "false}").available == false)
        #expect(try decode(base + "true}").available == true)
        #expect(try decode(base + "null}").available == nil)
        #expect(try decode(#"{"type":"item","item_id":"sku-1","timestamp":1}"#).available == nil)
        for bad in [#""no""#, "0", "tru", "[]"] {
            #expect(field(of: base + bad + "}") == "available", "\(bad)")
        }
    }

    @Test func parsesRFC3339() {
        #expect(RFC3339.parseMilliseconds("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.parseMilliseconds("2024-02-29T23:59:59.999z") == 1_709_251_199_999)
        #expect(RFC3339.parseMilliseconds("2000-03-01 00:00:00-00:30") == 951_870_600_000)
        #expect(RFC3339.parseMilliseconds("2016-12-31T23:59:60Z") == 1_483_228_799_999)
        for bad in ["2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00",
                    "2024-01-01", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+0100", "x"] {
            #expect(RFC3339.parseMilliseconds(bad) == nil, "\(bad)")
        }
    }

    @Test func namesTheBadField() {
        let cases: [(String, String)] = [
            (#"{"user_id":"u","item_id":"i","timestamp":1}"#, "type"),
            (#"{"type":"like","user_id":"u","item_id":"i","timestamp":1}"#, "type"),
            (#"{"type":5,"user_id":"u","item_id":"i","timestamp":1}"#, "type"),
            (#"{"type":"click","item_id":"i","timestamp":1}"#, "user_id"),
            (#"{"type":"click","user_id":"","item_id":"i","timestamp":1}"#, "user_id"),
            (#"{"type":"click","user_id":"u","timestamp":1}"#, "item_id"),
            (#"{"type":"search","user_id":"u","timestamp":1}"#, "query"),
            (#"{"type":"search","user_id":"u","query":"  ","timestamp":1}"#, "query"),
            (#"{"type":"click","user_id":"u","item_id":"i"}"#, "timestamp"),
            (#"{"type":"click","user_id":"u","item_id":"i","timestamp":-5}"#, "timestamp"),
            (#"{"type":"click","user_id":"u","item_id":"i","timestamp":1.5}"#, "timestamp"),
            (#"{"type":"click","user_id":"u","item_id":"i","timestamp":"yesterday"}"#, "timestamp"),
            (#"{"type":"click","user_id":"u","item_id":"i","timestamp":99999999999999999999}"#, "timestamp"),
            (#"{"type":"click","user_id":"u","item_id":"i","timestamp":1,"session_id":7}"#, "session_id"),
            (#"{"type":"item","item_id":"i","tags":["a",1],"timestamp":1}"#, "tags"),
            (#"{"type":"click","user_id":"u","user_id":"v","item_id":"i","timestamp":1}"#, "user_id"),
            (#"{"type":"click","user_id":"u\x","item_id":"i","timestamp":1}"#, "user_id"),
            (#"{"type":"click","user_id":"u\ud800","item_id":"i","timestamp":1}"#, "user_id"),
            (#"{"type":"click","user_id":"u","item_id":"i","timestamp":1,"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#, "x"),
            (#"{"type":"click","user_id":"u","item_id":"i","timestamp":1,"x":[1}"#, "x"),
        ]
        for (text, expected) in cases {
            #expect(field(of: text) == expected, "\(text)")
        }
        let long = #"{"type":"click","user_id":""# + String(repeating: "a", count: 100_000) + #"","item_id":"i","timestamp":1}"#
        #expect(field(of: long) == "user_id")
    }

    /// The type is matched on its bytes when plain; escaped, unknown or oversized spellings take the slow path
    /// and must give the same answers.
    @Test func typeIsReadPlainOrEscapedWithTheSameResults() throws {
        let rest = #","user_id":"u","item_id":"i","timestamp":1}"#
        func event(type spelling: String) -> String { #"{"type":""# + spelling + "\"" + rest }
        for type in EventType.allCases where type != .search {
            #expect(try decode(event(type: type.rawValue)).type == type)
        }
        #expect(try decode(event(type: #"cl\u0069ck"#)).type == .click)
        #expect(try decode(event(type: #"\u0076iew"#)).type == .view)
        for (spelling, reason) in [
            ("like", "unknown type 'like'"), ("Click", "unknown type 'Click'"), ("", "unknown type ''"),
            (#"li\u006Be"#, "unknown type 'like'"), ("clické", "unknown type 'clické'"),
            (String(repeating: "v", count: 40), "longer than 32 bytes"),
        ] {
            #expect(throws: EventDecodingError.self) { try decode(event(type: spelling)) }
            do {
                _ = try decode(event(type: spelling))
            } catch {
                #expect(error.field == "type")
                #expect(error.reason.hasPrefix(reason), "\(error.reason)")
            }
        }
        // Required fields are named after the type however it was spelled.
        do {
            _ = try decode(#"{"type":"cl\u0069ck","item_id":"i","timestamp":1}"#)
            Issue.record("a click without a user decoded")
        } catch {
            #expect(error.reason == "missing (required for 'click' events)")
        }
    }

    @Test func malformedDocumentsAreErrorsWithoutAField() {
        for text in ["", "   ", "[]", "{", #"{"type""#, #"{"type":"click",}"#, #"{"type":"click"} x"#, "nul", "{'a':1}"] {
            #expect(field(of: text) == "<document>", "\(text)")
        }
    }

    @Test func invalidUTF8IsAnError() {
        var bytes = Array(#"{"type":"click","user_id":"u"#.utf8)
        bytes += [0xC3, 0x28]
        bytes += Array(#"","item_id":"i","timestamp":1}"#.utf8)
        #expect(throws: EventDecodingError.self) { try EventDecoder.decode(bytes) }
        do {
            _ = try EventDecoder.decode(bytes)
        } catch {
            #expect(error.field == "user_id")
            #expect(error.reason == "invalid UTF-8")
        }
    }

    /// Random bytes and random mutations of a valid event: decoding returns or throws, and never traps.
    @Test func randomBytesNeverTrap() {
        var random = SplitMix64(seed: 42)
        let valid = Array(#"{"event_id":"e","type":"click","user_id":"u","item_id":"i","query":"q","tags":["t"],"timestamp":"2024-01-01T00:00:00Z"}"#.utf8)
        var decoded = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = valid
                for _ in 0..<(1 + random.next() % 4) {
                    let index = Int(random.next() % UInt64(bytes.count))
                    switch random.next() % 3 {
                    case 0: bytes[index] = UInt8(truncatingIfNeeded: random.next())
                    case 1: bytes.remove(at: index)
                    default: bytes.insert(Array(#"{}[]",:\0"#.utf8)[Int(random.next() % 9)], at: index)
                    }
                    if bytes.isEmpty { break }
                }
            }
            if (try? EventDecoder.decode(bytes)) != nil { decoded += 1 }
        }
        #expect(decoded < 20_000)
    }
}


extension EventDecoderTests {
    /// The string scanner skips eight bytes at a time only when none of them needs a look; checked against
    /// the byte-by-byte definition with every byte value in every position.
    @Test func wordSkipStopsForEveryByteThatNeedsALook() {
        func needsALook(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80
        }
        var random = SplitMix64(seed: 3)
        for _ in 0..<2_000 {
            // A plain background, then one byte of every value in every position.
            var bytes = (0..<8).map { _ in UInt8(0x20 + random.next() % 0x5F) }.map { $0 == 0x22 || $0 == 0x5C ? 0x41 : $0 }
            #expect(!JSONScanner.needsALook(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
            let position = Int(random.next() % 8)
            for value in UInt8.min...UInt8.max {
                bytes[position] = value
                let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                #expect(JSONScanner.needsALook(word) == needsALook(value), "byte \(value) at \(position)")
            }
        }
        // Words with any number of such bytes (each byte one in eight times anything): the tests agree.
        var needingALook = 0
        for _ in 0..<20_000 {
            let bytes = (0..<8).map { _ in
                random.next() % 8 == 0 ? UInt8(truncatingIfNeeded: random.next()) : UInt8(ascii: "a")
            }
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            #expect(JSONScanner.needsALook(word) == bytes.contains(where: needsALook))
            if bytes.contains(where: needsALook) { needingALook += 1 }
        }
        #expect(needingALook > 1_000 && needingALook < 19_000)
    }
}
