/// Bounded weighted counters (Space-Saving, Metwally et al. 2005): at most `capacity` keys; a new key takes
/// over the smallest counter and inherits its weight, so heavy keys are never lost and memory stays fixed.
struct SpaceSavingCounters: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var key: Int32
        var weight: Float
    }

    /// Sorted by key, so a lookup reads an eighth of the keys (no extra index memory per item).
    private(set) var entries: [Entry] = []

    init() {}
    init(entries: [Entry]) { self.entries = entries.sorted { $0.key < $1.key } }

    /// The position of `key`, or where it would be inserted. Two levels: count the every-8th keys not above
    /// `key` (independent loads, so a cold list's cache lines arrive together instead of one binary-search step
    /// at a time), then scan that block of 8.
    private func position(of key: Int32) -> (index: Int, found: Bool) {
        entries.withUnsafeBufferPointer { buffer in
            let count = buffer.count
            var blocks = 0
            var sample = 8
            while sample < count {
                blocks &+= buffer[sample].key <= key ? 1 : 0
                sample &+= 8
            }
            var index = blocks &* 8
            let end = min(index &+ 8, count)
            while index < end, buffer[index].key < key { index &+= 1 }
            return (index, index < end && buffer[index].key == key)
        }
    }

    /// - Complexity: O(capacity / 8) when the key is counted; O(capacity) when a new key arrives.
    mutating func add(_ key: Int32, weight: Float, capacity: Int) {
        let (index, found) = position(of: key)
        if found {
            entries[index].weight += weight
            return
        }
        if entries.count < capacity {
            entries.insert(Entry(key: key, weight: weight), at: index)
            return
        }
        // Full: the new key takes over the smallest counter; ties go to the larger key so eviction does not depend
        // on insertion accidents. Keys are sorted, so that is the last entry holding the smallest weight: one
        // branch-free pass for the minimum (four chains, so the compare latencies overlap), one short pass back.
        let smallest = entries.withUnsafeBufferPointer { buffer -> Int in
            var minima = (Float.infinity, Float.infinity, Float.infinity, Float.infinity)
            var index = 0
            while index &+ 4 <= buffer.count {
                minima.0 = min(minima.0, buffer[index].weight)
                minima.1 = min(minima.1, buffer[index &+ 1].weight)
                minima.2 = min(minima.2, buffer[index &+ 2].weight)
                minima.3 = min(minima.3, buffer[index &+ 3].weight)
                index &+= 4
            }
            while index < buffer.count {
                minima.0 = min(minima.0, buffer[index].weight)
                index &+= 1
            }
            let smallestWeight = min(min(minima.0, minima.1), min(minima.2, minima.3))
            var smallest = buffer.count &- 1
            while smallest >= 0, buffer[smallest].weight != smallestWeight { smallest &-= 1 }
            return smallest
        }
        guard smallest >= 0 else { return }
        let replacement = Entry(key: key, weight: entries[smallest].weight + weight)
        // Shift only the entries between the freed counter and the new key's place.
        entries.withUnsafeMutableBufferPointer { buffer in
            if smallest < index {
                for position in smallest..<(index - 1) { buffer[position] = buffer[position + 1] }
                buffer[index - 1] = replacement
            } else {
                var position = smallest
                while position > index {
                    buffer[position] = buffer[position - 1]
                    position -= 1
                }
                buffer[index] = replacement
            }
        }
    }

    func weight(of key: Int32) -> Float {
        let (index, found) = position(of: key)
        return found ? entries[index].weight : 0
    }

    mutating func remove(_ key: Int32) {
        let (index, found) = position(of: key)
        if found { entries.remove(at: index) }
    }

    mutating func scale(by factor: Float) {
        for index in entries.indices { entries[index].weight *= factor }
    }
}

/// Forward decay (Cormode et al. 2009): an event at time t adds 2^((t - reference)/halfLife) instead of decaying
/// every stored value as time passes. Ratios and rankings of stored values equal those of exponentially decayed
/// values, with no sweep per event; `rebase` rescales everything once the weights grow large.
struct ForwardDecay: Sendable, Equatable {
    var referenceMilliseconds: Int64?
    let halfLifeMilliseconds: Double

    init(halfLifeSeconds: Double) { halfLifeMilliseconds = max(halfLifeSeconds, 0.001) * 1000 }

    /// The weight of an event at `time`, fixing the reference at the first event seen.
    mutating func weight(at time: Int64) -> Float {
        let reference = referenceMilliseconds ?? time
        referenceMilliseconds = reference
        return Float(exp2(Double(time - reference) / halfLifeMilliseconds))
    }

    /// True when weights near `time` are large enough to risk Float overflow within ~30 half-lives.
    func needsRebase(at time: Int64) -> Bool {
        guard let reference = referenceMilliseconds else { return false }
        return Double(time - reference) / halfLifeMilliseconds > 64
    }

    /// Moves the reference to `time`; returns the factor every stored value must be multiplied by.
    mutating func rebase(to time: Int64) -> Float {
        let reference = referenceMilliseconds ?? time
        referenceMilliseconds = time
        return Float(exp2(-Double(time - reference) / halfLifeMilliseconds))
    }

    /// Decays a stored value to `time`: value × 2^(-(time - reference)/halfLife).
    func value(_ stored: Float, at time: Int64) -> Double {
        guard let reference = referenceMilliseconds else { return Double(stored) }
        return Double(stored) * exp2(-Double(time - reference) / halfLifeMilliseconds)
    }
}

@inline(__always) func exp2(_ x: Double) -> Double {
    // Pure-Swift 2^x (no Foundation): split into integer and fraction parts.
    guard x.isFinite else { return x > 0 ? .infinity : 0 }
    let clamped = min(max(x, -1000), 1000)
    let whole = clamped.rounded(.down)
    let fraction = clamped - whole
    // 2^f = e^(f ln2), series converges fast for f in [0, 1).
    let y = fraction * 0.693_147_180_559_945_3
    var term = 1.0
    var sum = 1.0
    for n in 1...14 {
        term *= y / Double(n)
        sum += term
    }
    return sum * Double(sign: .plus, exponent: Int(whole), significand: 1)
}
