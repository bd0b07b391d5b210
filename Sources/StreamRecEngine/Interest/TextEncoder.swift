/// Turns text (a query, a title) into a fixed-size vector. Implementations must be deterministic: the same text
/// always gives the same vector, in every process, because item and user vectors are built from them.
public protocol TextEncoder: Sendable {
    var dimensions: Int { get }
    /// A unit-length vector of `dimensions` entries, or all zeros when the text has no tokens.
    func encode(_ text: String) -> [Float]
}

/// The built-in encoder: hashed words plus hashed character trigrams of each word, so misspellings and
/// inflections ("shoe", "shoes", "sheos") stay close. Hashes are FNV-1a, stable across processes.
public struct HashedTextEncoder: TextEncoder {
    public let dimensions: Int
    /// Weight of each whole word relative to one of its trigrams.
    public var wordWeight: Float = 2

    public init(dimensions: Int) {
        precondition(dimensions > 0, "dimensions must be positive")
        self.dimensions = dimensions
    }

    public func encode(_ text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: dimensions)
        for word in TextNormalizer.words(of: text) {
            add(StableHash.fnv1a(word), weight: wordWeight, to: &vector)
            let padded: [UInt8] = [UInt8(ascii: "#")] + word + [UInt8(ascii: "#")]
            if padded.count >= 3 {
                for start in 0...(padded.count - 3) {
                    add(StableHash.fnv1a(padded[start..<(start + 3)]), weight: 1, to: &vector)
                }
            }
        }
        VectorMath.normalize(&vector)
        return vector
    }

    private func add(_ hash: UInt64, weight: Float, to vector: inout [Float]) {
        // Two signed positions per feature halve the damage of a single collision.
        let first = Int(hash % UInt64(dimensions))
        let second = Int((hash >> 32) % UInt64(dimensions))
        vector[first] += hash & (1 << 62) == 0 ? weight : -weight
        vector[second] += hash & (1 << 61) == 0 ? weight : -weight
    }
}

/// Query and text normalisation shared by the encoder and the query index.
public enum TextNormalizer {
    /// Lower-cased words (letters and digits), as UTF-8 bytes.
    static func words(of text: String) -> [[UInt8]] {
        var text = text  // `withUTF8` is mutating only to make a non-native string contiguous
        // Most queries and titles are ASCII; Unicode property lookups per scalar were ~9 % of serve's apply.
        if let words = text.withUTF8({ asciiWords(of: $0) }) { return words }
        return unicodeWords(of: text)
    }

    /// `unicodeWords(of:)` for ASCII text: A–Z, a–z and 0–9 are the only ASCII scalars that are alphabetic or
    /// numeric. Nil when the text has a non-ASCII byte.
    static func asciiWords(of bytes: UnsafeBufferPointer<UInt8>) -> [[UInt8]]? {
        var words: [[UInt8]] = []
        var current: [UInt8] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                current.append(byte)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                current.append(byte | 0x20)
            case 0x80...:
                return nil
            default:
                if !current.isEmpty {
                    words.append(current)
                    current.removeAll(keepingCapacity: true)
                }
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    static func unicodeWords(of text: String) -> [[UInt8]] {
        var words: [[UInt8]] = []
        var current: [UInt8] = []
        for scalar in text.lowercased().unicodeScalars {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                current.append(contentsOf: UTF8.encode(scalar)!)
            } else if !current.isEmpty {
                words.append(current)
                current.removeAll(keepingCapacity: true)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// The key a query is counted under: lower-cased words joined by single spaces ("Trail  Shoes!" → "trail shoes").
    public static func normalizedQuery(_ text: String) -> String {
        words(of: text).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }
}

/// Hashes that are the same in every process (Swift's `Hasher` is randomly seeded, so it cannot be used for
/// anything that reaches state or snapshots).
enum StableHash {
    static func fnv1a<Bytes: Sequence<UInt8>>(_ bytes: Bytes, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var hash = seed
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        // Final avalanche (splitmix64) so low bits are usable for modulo.
        return mix(hash)
    }

    /// The same hash of a string's UTF-8 bytes, read in place rather than through the generic view.
    static func fnv1a(_ string: String) -> UInt64 {
        var string = string  // `withUTF8` is mutating only to make a non-native string contiguous
        return string.withUTF8 { fnv1a($0) }
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum VectorMath {
    static func dot(_ a: [Float], _ b: [Float]) -> Float {
        var sum: Float = 0
        for index in 0..<min(a.count, b.count) { sum += a[index] * b[index] }
        return sum
    }

    static func norm(_ a: [Float]) -> Float { dot(a, a).squareRoot() }

    static func normalize(_ a: inout [Float]) {
        let length = norm(a)
        guard length > 0 else { return }
        for index in a.indices { a[index] /= length }
    }

    /// Cosine of a unit-length `unit` with `b`, in one pass over both.
    static func cosine(unit: [Float], _ b: [Float]) -> Float {
        let count = min(unit.count, b.count)
        return unit.withUnsafeBufferPointer { u in
            b.withUnsafeBufferPointer { v in
                var dot: Float = 0
                var squares: Float = 0
                for index in 0..<count {
                    dot += u[index] * v[index]
                    squares += v[index] * v[index]
                }
                return squares > 0 ? dot / squares.squareRoot() : 0
            }
        }
    }

    /// ``cosine(unit:_:)`` of two vectors at once: the same sums in the same order (identical results), but
    /// four independent chains instead of two.
    static func cosines(unit: [Float], _ a: [Float], _ b: [Float]) -> (Float, Float) {
        guard a.count == b.count else { return (cosine(unit: unit, a), cosine(unit: unit, b)) }
        let count = min(unit.count, a.count)
        return unit.withUnsafeBufferPointer { u in
            a.withUnsafeBufferPointer { v in
                b.withUnsafeBufferPointer { w in
                    var dotA: Float = 0
                    var squaresA: Float = 0
                    var dotB: Float = 0
                    var squaresB: Float = 0
                    for index in 0..<count {
                        dotA += u[index] * v[index]
                        squaresA += v[index] * v[index]
                        dotB += u[index] * w[index]
                        squaresB += w[index] * w[index]
                    }
                    return (squaresA > 0 ? dotA / squaresA.squareRoot() : 0,
                            squaresB > 0 ? dotB / squaresB.squareRoot() : 0)
                }
            }
        }
    }

    /// ``cosine(unit:_:)`` of four vectors at once: lane j holds vector j's sums, each adding its products in
    /// index order (identical results). Four contiguous values of each vector are transposed into lanes instead
    /// of gathered one at a time.
    static func cosines(unit: [Float], _ a: [Float], _ b: [Float], _ c: [Float], _ d: [Float]) -> SIMD4<Float> {
        let count = a.count
        guard b.count == count, c.count == count, d.count == count, unit.count == count else {
            let (first, second) = cosines(unit: unit, a, b)
            let (third, fourth) = cosines(unit: unit, c, d)
            return SIMD4(first, second, third, fourth)
        }
        var dots = SIMD4<Float>()
        var squares = SIMD4<Float>()
        unit.withUnsafeBufferPointer { u in
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeBufferPointer { c in
                        d.withUnsafeBufferPointer { d in
                            @inline(__always) func values(_ vector: UnsafeBufferPointer<Float>, _ index: Int) -> SIMD4<Float> {
                                UnsafeRawPointer(vector.baseAddress!).loadUnaligned(
                                    fromByteOffset: index * MemoryLayout<Float>.stride, as: SIMD4<Float>.self)
                            }
                            var index = 0
                            while index + 4 <= count {
                                let weights = values(u, index)
                                // Element i of the four vectors, for i = index, index + 1, …, in order.
                                let (v0, v1, v2, v3) = transposed(
                                    values(a, index), values(b, index), values(c, index), values(d, index))
                                dots += v0 * SIMD4(repeating: weights[0])
                                squares += v0 * v0
                                dots += v1 * SIMD4(repeating: weights[1])
                                squares += v1 * v1
                                dots += v2 * SIMD4(repeating: weights[2])
                                squares += v2 * v2
                                dots += v3 * SIMD4(repeating: weights[3])
                                squares += v3 * v3
                                index += 4
                            }
                            while index < count {
                                let vector = SIMD4(a[index], b[index], c[index], d[index])
                                dots += vector * SIMD4(repeating: u[index])
                                squares += vector * vector
                                index += 1
                            }
                        }
                    }
                }
            }
        }
        var result = SIMD4<Float>()
        for lane in 0..<4 { result[lane] = squares[lane] > 0 ? dots[lane] / squares[lane].squareRoot() : 0 }
        return result
    }

    /// A 4 × 4 transpose in registers: lane j of result i is lane i of argument j.
    @inline(__always)
    static func transposed(_ a: SIMD4<Float>, _ b: SIMD4<Float>, _ c: SIMD4<Float>, _ d: SIMD4<Float>)
        -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>)
    {
        let abLow = SIMD4(a[0], b[0], a[1], b[1])
        let cdLow = SIMD4(c[0], d[0], c[1], d[1])
        let abHigh = SIMD4(a[2], b[2], a[3], b[3])
        let cdHigh = SIMD4(c[2], d[2], c[3], d[3])
        return (SIMD4(lowHalf: abLow.lowHalf, highHalf: cdLow.lowHalf),
                SIMD4(lowHalf: abLow.highHalf, highHalf: cdLow.highHalf),
                SIMD4(lowHalf: abHigh.lowHalf, highHalf: cdHigh.lowHalf),
                SIMD4(lowHalf: abHigh.highHalf, highHalf: cdHigh.highHalf))
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        let denominator = norm(a) * norm(b)
        return denominator > 0 ? dot(a, b) / denominator : 0
    }

    /// a += scale * b
    static func add(_ b: [Float], scaledBy scale: Float, to a: inout [Float]) {
        for index in 0..<min(a.count, b.count) { a[index] += scale * b[index] }
    }
}
