/// Decodes one JSON event (see docs/events.md) straight from bytes.
///
/// A hand-written scanner: one pass, no intermediate tree, no Foundation. It never traps: every malformed input
/// (invalid JSON, invalid UTF-8, deep nesting, oversized strings) becomes an ``EventDecodingError`` naming the field.
/// Unknown keys are skipped.
public enum EventDecoder {
    /// Longest accepted id (`event_id`, `user_id`, `session_id`, `item_id`, `category`, a tag), in UTF-8 bytes.
    public static let maximumIdentifierBytes = 512
    /// Longest accepted `query` or `title`, in UTF-8 bytes.
    public static let maximumTextBytes = 8192
    /// Most entries accepted in `tags`.
    public static let maximumTags = 64
    /// Deepest nesting accepted inside skipped (unknown) values.
    public static let maximumNestingDepth = 64

    /// Decodes one event.
    /// - Throws: ``EventDecodingError`` naming the field and the problem.
    /// - Complexity: O(n) in the number of bytes.
    public static func decode(_ bytes: [UInt8]) throws(EventDecodingError) -> Event {
        // Returned straight out of the closure: taking the event out of a `Result` copied it (a retain and
        // release per string field).
        do {
            return try bytes.withUnsafeBytes { buffer throws -> Event in try decode(buffer) }
        } catch {
            // `withUnsafeBytes` rethrows untyped; `decode` throws nothing else.
            throw error as! EventDecodingError
        }
    }

    /// Decodes one event from raw bytes (for example a Kafka message payload, without copying it).
    /// - Throws: ``EventDecodingError`` naming the field and the problem.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(EventDecodingError) -> Event {
        var event = Event(type: .item, timestampMilliseconds: 0)
        try decode(bytes, into: &event)
        return event
    }

    /// Reads the fields straight into `event`: gathering them elsewhere and building the event at the end
    /// copied every string once more.
    static func decode(_ bytes: UnsafeRawBufferPointer, into event: inout Event) throws(EventDecodingError) {
        var scanner = JSONScanner(bytes: bytes)
        var fields = DecodedFields()
        try scanner.skipByteOrderMark()
        try scanner.skipWhitespace()
        guard scanner.peek() == UInt8(ascii: "{") else {
            throw scanner.error(nil, scanner.isAtEnd ? "empty message" : "an event must be a JSON object")
        }
        scanner.advance()
        try scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.advance()
        } else {
            while true {
                try scanner.skipWhitespace()
                let key = try scanner.readKey()
                try scanner.skipWhitespace()
                guard scanner.peek() == UInt8(ascii: ":") else {
                    throw scanner.error(nil, "expected ':' after the key \(key.name)")
                }
                scanner.advance()
                try scanner.skipWhitespace()
                try fields.read(key, into: &event, from: &scanner)
                try scanner.skipWhitespace()
                guard let next = scanner.peek() else { throw scanner.error(nil, "unterminated object") }
                scanner.advance()
                if next == UInt8(ascii: "}") { break }
                guard next == UInt8(ascii: ",") else {
                    throw scanner.error(nil, "expected ',' or '}' after the value of '\(key.name)'")
                }
            }
        }
        try scanner.skipWhitespace()
        guard scanner.isAtEnd else { throw scanner.error(nil, "unexpected data after the event object") }
        try fields.validate(&event, end: scanner.position)
    }
}

/// The known keys. Raw values double as the field names in errors.
enum EventKey: String, CaseIterable {
    case eventID = "event_id", type, userID = "user_id", sessionID = "session_id", itemID = "item_id", query
    case title, category, tags, timestamp, available

    /// The known key spelled by these bytes, matched without building a String (this runs for every key of
    /// every event).
    static func matching(_ raw: UnsafeRawBufferPointer) -> EventKey? {
        func equals(_ name: StaticString) -> Bool { raw.spells(name) }
        switch raw.first {
        case UInt8(ascii: "e"): return equals("event_id") ? .eventID : nil
        case UInt8(ascii: "t"):
            if equals("type") { return .type }
            if equals("title") { return .title }
            if equals("tags") { return .tags }
            return equals("timestamp") ? .timestamp : nil
        case UInt8(ascii: "u"): return equals("user_id") ? .userID : nil
        case UInt8(ascii: "s"): return equals("session_id") ? .sessionID : nil
        case UInt8(ascii: "i"): return equals("item_id") ? .itemID : nil
        case UInt8(ascii: "q"): return equals("query") ? .query : nil
        case UInt8(ascii: "c"): return equals("category") ? .category : nil
        case UInt8(ascii: "a"): return equals("available") ? .available : nil
        default: return nil
        }
    }

    /// One bit per key, for the duplicate-key check (a switch: `allCases` would allocate on every call).
    var bit: UInt16 {
        switch self {
        case .eventID: 1 << 0
        case .type: 1 << 1
        case .userID: 1 << 2
        case .sessionID: 1 << 3
        case .itemID: 1 << 4
        case .query: 1 << 5
        case .title: 1 << 6
        case .category: 1 << 7
        case .tags: 1 << 8
        case .timestamp: 1 << 9
        case .available: 1 << 10
        }
    }
}

/// A key as read: a known key or the text of an unknown one (only for messages).
struct ScannedKey {
    var known: EventKey?
    var name: String
}

/// What the scan saw besides the event's own fields; the event is validated as a whole at the end.
struct DecodedFields {
    var seen: UInt16 = 0
    /// The `type` value when it is not a known type (for the error), or when it had to be unescaped.
    var typeText: String?
    var type: EventType?
    var timestamp: Int64?

    mutating func read(_ key: ScannedKey, into event: inout Event, from scanner: inout JSONScanner)
        throws(EventDecodingError)
    {
        guard let known = key.known else {
            try scanner.skipValue(field: key.name)
            return
        }
        let field = known.rawValue
        guard seen & known.bit == 0 else { throw scanner.error(field, "duplicate key") }
        seen |= known.bit
        let idLimit = EventDecoder.maximumIdentifierBytes
        switch known {
        case .eventID: event.eventID = try scanner.readOptionalString(field: field, maxBytes: idLimit)
        case .type:
            // Matched on its bytes: no String for the common case.
            if let raw = scanner.readPlainASCIIString(maxBytes: Self.maximumTypeBytes) {
                type = EventType(matching: raw)
                if type == nil { typeText = String(decoding: raw, as: UTF8.self) }
            } else {
                typeText = try scanner.readOptionalString(field: field, maxBytes: Self.maximumTypeBytes)
                type = typeText.flatMap(EventType.init(rawValue:))
            }
        case .userID: event.userID = try scanner.readOptionalString(field: field, maxBytes: idLimit)
        case .sessionID: event.sessionID = try scanner.readOptionalString(field: field, maxBytes: idLimit)
        case .itemID: event.itemID = try scanner.readOptionalString(field: field, maxBytes: idLimit)
        case .query: event.query = try scanner.readOptionalString(field: field, maxBytes: EventDecoder.maximumTextBytes)
        case .title: event.title = try scanner.readOptionalString(field: field, maxBytes: EventDecoder.maximumTextBytes)
        case .category: event.category = try scanner.readOptionalString(field: field, maxBytes: idLimit)
        case .tags:
            event.tags = try scanner.readStringArray(field: field, maxBytes: idLimit, maxCount: EventDecoder.maximumTags)
        case .timestamp: timestamp = try scanner.readTimestamp(field: field)
        case .available: event.available = try scanner.readOptionalBool(field: field)
        }
    }

    static let maximumTypeBytes = 32

    /// Sets the type and time and checks the fields the type requires.
    func validate(_ event: inout Event, end: Int) throws(EventDecodingError) {
        func failure(_ key: EventKey, _ reason: String) -> EventDecodingError {
            EventDecodingError(field: key.rawValue, reason: reason, offset: end)
        }
        guard let type else {
            guard let typeText else { throw failure(.type, "missing") }
            let expected = EventType.allCases.map(\.rawValue).joined(separator: ", ")
            throw failure(.type, "unknown type '\(typeText)'; expected one of \(expected)")
        }
        guard let timestamp else { throw failure(.timestamp, "missing") }
        event.type = type
        event.timestampMilliseconds = timestamp
        // Checked one by one: an array of (key, value) pairs here would allocate for every event.
        if event.eventID?.isEmpty == true { throw failure(.eventID, "must not be empty") }
        if event.userID?.isEmpty == true { throw failure(.userID, "must not be empty") }
        if event.sessionID?.isEmpty == true { throw failure(.sessionID, "must not be empty") }
        if event.itemID?.isEmpty == true { throw failure(.itemID, "must not be empty") }
        if type != .item && event.userID == nil {
            throw failure(.userID, "missing (required for '\(type.rawValue)' events)")
        }
        if type == .search {
            guard let query = event.query, query.contains(where: { !$0.isWhitespace }) else {
                throw failure(.query, event.query == nil ? "missing (required for 'search' events)" : "must not be blank")
            }
        } else if event.itemID == nil {
            throw failure(.itemID, "missing (required for '\(type.rawValue)' events)")
        }
    }
}

extension EventType {
    /// The type spelled by these bytes, matched without building a String.
    init?(matching raw: UnsafeRawBufferPointer) {
        func equals(_ name: StaticString) -> Bool { raw.spells(name) }
        switch raw.first {
        case UInt8(ascii: "v") where equals("view"): self = .view
        case UInt8(ascii: "c") where equals("click"): self = .click
        case UInt8(ascii: "c") where equals("cart"): self = .cart
        case UInt8(ascii: "s") where equals("search"): self = .search
        case UInt8(ascii: "p") where equals("purchase"): self = .purchase
        case UInt8(ascii: "i") where equals("item"): self = .item
        default: return nil
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Whether these bytes are exactly `name`'s UTF-8 (a byte loop: the generic `elementsEqual` it replaces was
    /// about a fifth of decoding).
    @inline(__always) func spells(_ name: StaticString) -> Bool {
        name.withUTF8Buffer { expected in
            guard expected.count == count else { return false }
            for index in 0..<count where expected[index] != self[index] { return false }
            return true
        }
    }
}

/// A cursor over the message bytes. Every read is bounds-checked; nothing here can trap on input.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { position >= bytes.count }
    func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }
    mutating func advance() { position += 1 }

    func error(_ field: String?, _ reason: String) -> EventDecodingError {
        EventDecodingError(field: field, reason: reason, offset: position)
    }

    mutating func skipByteOrderMark() throws(EventDecodingError) {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { position = 3 }
    }

    mutating func skipWhitespace() throws(EventDecodingError) {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8, field: String?, what: String) throws(EventDecodingError) {
        guard peek() == byte else { throw error(field, "expected \(what)") }
        position += 1
    }

    /// Reads an object key, matching known keys on raw bytes (no String built for them).
    mutating func readKey() throws(EventDecodingError) -> ScannedKey {
        guard peek() == UInt8(ascii: "\"") else { throw error(nil, "expected a key in double quotes") }
        let start = position + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\") { end += 1 }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            if let key = EventKey.matching(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) {
                position = end + 1
                return ScannedKey(known: key, name: key.rawValue)
            }
        }
        let name = try readString(field: nil, maxBytes: EventDecoder.maximumIdentifierBytes)
        return ScannedKey(known: EventKey(rawValue: name), name: name)
    }

    /// The bytes of a string value that is printable ASCII without escapes and at most `maxBytes` long,
    /// consumed; nil, with nothing consumed, for any other value.
    mutating func readPlainASCIIString(maxBytes: Int) -> UnsafeRawBufferPointer? {
        guard peek() == UInt8(ascii: "\"") else { return nil }
        let start = position + 1
        var end = start
        while end < bytes.count, end - start <= maxBytes {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                position = end + 1
                return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return nil }
            end += 1
        }
        return nil
    }

    /// A string, or nil for JSON `null`.
    mutating func readOptionalString(field: String, maxBytes: Int) throws(EventDecodingError) -> String? {
        if try readNull(field: field) { return nil }
        guard peek() == UInt8(ascii: "\"") else { throw error(field, "must be a string") }
        return try readString(field: field, maxBytes: maxBytes)
    }

    /// `true` or `false`, or nil for JSON `null`.
    mutating func readOptionalBool(field: String) throws(EventDecodingError) -> Bool? {
        switch peek() {
        case UInt8(ascii: "n"):
            try readLiteral("null", field: field)
            return nil
        case UInt8(ascii: "t"):
            try readLiteral("true", field: field)
            return true
        case UInt8(ascii: "f"):
            try readLiteral("false", field: field)
            return false
        default:
            throw error(field, "must be true or false")
        }
    }

    mutating func readNull(field: String) throws(EventDecodingError) -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try readLiteral("null", field: field)
        return true
    }

    mutating func readLiteral(_ literal: StaticString, field: String?) throws(EventDecodingError) {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw error(field, "invalid literal") }
        guard UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)]).spells(literal) else {
            throw error(field, "invalid literal")
        }
        position += count
    }

    /// Reads a JSON string starting at its opening quote; validates UTF-8 and decodes escapes.
    mutating func readString(field: String?, maxBytes: Int) throws(EventDecodingError) -> String {
        position += 1
        let start = position
        var hasEscapes = false
        var isASCII = true
        // Eight bytes at a time while none needs a look (most ids and texts are plain ASCII), never past
        // where the byte loop would stop for length, so errors and their offsets stay the same.
        let lengthLimit = max(maxBytes + 12, 2 * maxBytes)
        while position + 8 <= bytes.count, position + 8 - start <= lengthLimit,
            !Self.needsALook(bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
        {
            position += 8
        }
        while true {
            guard position < bytes.count else { throw error(field, "unterminated string") }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 { throw error(field, "control character inside a string must be escaped") }
            if byte >= 0x80 { isASCII = false }
            if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                position += 1
            }
            position += 1
            if position - start > lengthLimit { throw error(field, "longer than \(maxBytes) bytes") }
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
        position += 1
        let decoded: String
        if !hasEscapes {
            guard raw.count <= maxBytes else { throw error(field, "longer than \(maxBytes) bytes") }
            if isASCII {
                decoded = String(decoding: raw, as: UTF8.self)
            } else {
                guard let valid = String(validating: raw, as: UTF8.self) else { throw error(field, "invalid UTF-8") }
                decoded = valid
            }
        } else {
            let unescaped = try unescape(raw, field: field)
            guard unescaped.count <= maxBytes else { throw error(field, "longer than \(maxBytes) bytes") }
            guard let valid = String(validating: unescaped, as: UTF8.self) else { throw error(field, "invalid UTF-8") }
            decoded = valid
        }
        return decoded
    }

    /// Whether any of these eight bytes ends a plain run: a quote, a backslash, a control character
    /// (below 0x20) or a non-ASCII byte. Exact: never false when one is there.
    static func needsALook(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        let quote = hasZeroByte(word ^ (ones &* UInt64(UInt8(ascii: "\""))))
        let backslash = hasZeroByte(word ^ (ones &* UInt64(UInt8(ascii: "\\"))))
        // A byte below 0x20 borrows into its high bit; a byte at or above 0x80 has it already.
        let controlOrHigh = (word &- ones &* 0x20) & ~word & highs != 0 || word & highs != 0
        return quote || backslash || controlOrHigh
    }

    private func unescape(_ raw: UnsafeRawBufferPointer, field: String?) throws(EventDecodingError) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var index = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var value: UInt32 = 0
            for offset in 0..<4 {
                let byte = raw[at + offset]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                index += 1
                continue
            }
            guard index + 1 < raw.count else { throw error(field, "invalid escape") }
            let escaped = raw[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escaped)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(index) else { throw error(field, "invalid \\u escape") }
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 1 < raw.count, raw[index] == UInt8(ascii: "\\"), raw[index + 1] == UInt8(ascii: "u"),
                        let low = hex4(index + 2), (0xDC00...0xDFFF).contains(low)
                    else { throw error(field, "unpaired UTF-16 surrogate in \\u escape") }
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error(field, "unpaired UTF-16 surrogate in \\u escape")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw error(field, "invalid \\u escape") }
                output.append(contentsOf: UTF8.encode(unicode)!)
            default:
                throw error(field, "invalid escape '\\\(Character(Unicode.Scalar(escaped)))'")
            }
        }
        return output
    }

    mutating func readStringArray(field: String, maxBytes: Int, maxCount: Int) throws(EventDecodingError) -> [String] {
        if try readNull(field: field) { return [] }
        guard peek() == UInt8(ascii: "[") else { throw error(field, "must be an array of strings") }
        position += 1
        var values: [String] = []
        try skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return values
        }
        while true {
            try skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw error(field, "must be an array of strings") }
            guard values.count < maxCount else { throw error(field, "more than \(maxCount) entries") }
            values.append(try readString(field: field, maxBytes: maxBytes))
            try skipWhitespace()
            guard let next = peek() else { throw error(field, "unterminated array") }
            position += 1
            if next == UInt8(ascii: "]") { return values }
            guard next == UInt8(ascii: ",") else { throw error(field, "expected ',' or ']' in the array") }
        }
    }

    /// Integer milliseconds since the epoch, or an RFC 3339 string.
    mutating func readTimestamp(field: String) throws(EventDecodingError) -> Int64 {
        guard let first = peek() else { throw error(field, "missing value") }
        if first == UInt8(ascii: "\"") {
            let text = try readString(field: field, maxBytes: 64)
            guard let milliseconds = RFC3339.parseMilliseconds(text) else {
                throw error(field, "'\(text)' is not an RFC 3339 date-time such as 2024-11-25T16:00:00Z")
            }
            return milliseconds
        }
        if first == UInt8(ascii: "-") { throw error(field, "must not be negative") }
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw error(field, "must be integer milliseconds since the epoch or an RFC 3339 string")
        }
        var value: Int64 = 0
        while let byte = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let (times10, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflowA, !overflowB else { throw error(field, "number too large") }
            value = sum
            position += 1
        }
        if let byte = peek(), byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            throw error(field, "must be an integer number of milliseconds")
        }
        return value
    }

    /// Skips any JSON value without recursion; nesting depth is bounded by ``EventDecoder/maximumNestingDepth``.
    mutating func skipValue(field: String) throws(EventDecodingError) {
        // One bit per open container: 1 = object, 0 = array; a UInt64 holds the whole stack.
        var stack: UInt64 = 0
        var depth = 0
        var expectingValue = true
        while true {
            try skipWhitespace()
            guard let byte = peek() else { throw error(field, "unterminated value") }
            if expectingValue {
                switch byte {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard depth < EventDecoder.maximumNestingDepth else {
                        throw error(field, "nested deeper than \(EventDecoder.maximumNestingDepth) levels")
                    }
                    let isObject = byte == UInt8(ascii: "{")
                    stack = stack << 1 | (isObject ? 1 : 0)
                    depth += 1
                    position += 1
                    try skipWhitespace()
                    if peek() == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        position += 1
                        stack >>= 1
                        depth -= 1
                        expectingValue = false
                    } else if isObject {
                        try readMemberName(field: field)
                    }
                    continue
                case UInt8(ascii: "\""): try skipString(field: field)
                case UInt8(ascii: "t"): try readLiteral("true", field: field)
                case UInt8(ascii: "f"): try readLiteral("false", field: field)
                case UInt8(ascii: "n"): try readLiteral("null", field: field)
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber(field: field)
                default: throw error(field, "invalid value")
                }
                expectingValue = false
            } else {
                guard depth > 0 else { return }
                let inObject = stack & 1 == 1
                position += 1
                if byte == UInt8(ascii: ",") {
                    try skipWhitespace()
                    if inObject { try readMemberName(field: field) }
                    expectingValue = true
                } else if byte == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    stack >>= 1
                    depth -= 1
                } else {
                    throw error(field, "expected ',' or the end of the \(inObject ? "object" : "array")")
                }
            }
        }
    }

    private mutating func readMemberName(field: String) throws(EventDecodingError) {
        guard peek() == UInt8(ascii: "\"") else { throw error(field, "expected a key in double quotes") }
        try skipString(field: field)
        try skipWhitespace()
        try expect(UInt8(ascii: ":"), field: field, what: "':' after a key")
    }

    private mutating func skipString(field: String) throws(EventDecodingError) {
        position += 1
        while true {
            guard position < bytes.count else { throw error(field, "unterminated string") }
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: "\"") { return }
            if byte == UInt8(ascii: "\\") { position += 1 }
        }
    }

    private mutating func skipNumber(field: String) throws(EventDecodingError) {
        let start = position
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                UInt8(ascii: "e"), UInt8(ascii: "E"):
                position += 1
            default:
                guard position > start else { throw error(field, "invalid number") }
                return
            }
        }
    }
}
