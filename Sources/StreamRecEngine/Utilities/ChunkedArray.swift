/// The elements of one chunk, stored in the object itself (one allocation, one indirection); the header counts
/// the initialised elements. Shared between copies of its container until one of them writes: containers
/// write only into a chunk they hold the only reference to and copy it otherwise (copy-on-write per chunk).
/// Containers holding chunks are `@unchecked Sendable` because of that rule (a chunk reachable from two values,
/// or threads, is only read); `ManagedBuffer` itself cannot be declared `Sendable`.
final class ChunkStorage<Element>: ManagedBuffer<Int, Element> {
    /// A chunk with room for `capacity` elements, none initialised.
    static func make(capacity: Int) -> ChunkStorage {
        unsafeDowncast(create(minimumCapacity: capacity) { _ in 0 }, to: ChunkStorage.self)
    }

    /// A chunk with room for `capacity` elements, the first `count` of them `value`.
    static func make(capacity: Int, repeating value: Element, count: Int) -> ChunkStorage {
        let chunk = make(capacity: capacity)
        chunk.elements.initialize(repeating: value, count: count)
        chunk.header = count
        return chunk
    }

    /// The first element; stable while the chunk lives (its storage is part of the object).
    @inline(__always) var elements: UnsafeMutablePointer<Element> { withUnsafeMutablePointerToElements { $0 } }

    /// A chunk with room for `capacity` elements holding copies of this one's.
    func copy(capacity: Int) -> ChunkStorage {
        let copy = Self.make(capacity: capacity)
        copy.elements.initialize(from: elements, count: header)
        copy.header = header
        return copy
    }

    /// Replaces `chunk` by a copy unless it is the only reference, so it can be written.
    @inline(__always) static func makeUnique(_ chunk: inout ChunkStorage, capacity: Int) {
        if !isKnownUniquelyReferenced(&chunk) { chunk = chunk.copy(capacity: capacity) }
    }

    deinit { _ = withUnsafeMutablePointers { count, elements in elements.deinitialize(count: count.pointee) } }
}

/// An array stored as fixed-size chunks held by reference. Copying it copies only the list of chunks (one
/// reference per ``elementsPerChunk`` elements), and a write to a copy copies just the chunk it lands in: the
/// engine's per-user and per-item state can be handed to a checkpoint writer while the next events are applied,
/// without the first write after the hand-over copying every user. Reads cost one more (cache-resident) load
/// than an array's.
struct ChunkedArray<Element> {
    static var elementsPerChunk: Int { 1 << chunkShift }
    /// About 2–4 KB per chunk, 16 to 512 elements: a write to a shared chunk copies (and for references,
    /// retains) all its elements, and a copy of the array retains every chunk, so large elements get short
    /// chunks and plain small values long ones.
    @inline(__always) private static var chunkShift: Int {
        // log2 of the elements that fit in 4 KB, rounded down (a constant once specialised).
        Swift.min(9, Swift.max(4, Int.bitWidth - 1 - (4096 / MemoryLayout<Element>.stride).leadingZeroBitCount))
    }
    private static var positionMask: Int { elementsPerChunk - 1 }

    private var chunks: [ChunkStorage<Element>] = []
    private(set) var count = 0

    init() {}

    init(_ elements: some Sequence<Element>) {
        for element in elements { append(element) }
    }

    init(repeating value: Element, count: Int) {
        chunks = stride(from: 0, to: count, by: Self.elementsPerChunk).map { start in
            .make(capacity: Self.elementsPerChunk, repeating: value, count: Swift.min(Self.elementsPerChunk, count - start))
        }
        self.count = count
    }

    /// Number of chunks (each a separate allocation); for memory estimates.
    var chunkCount: Int { chunks.count }

    /// Identifies the chunk storage holding `position`: equal in two arrays while they share that chunk.
    func storageIdentifier(ofChunkHolding position: Int) -> ObjectIdentifier {
        checkPosition(position)
        return ObjectIdentifier(chunks[position >> Self.chunkShift])
    }

    @inline(__always) private func checkPosition(_ position: Int) {
        precondition(UInt(bitPattern: position) < UInt(bitPattern: count), "ChunkedArray position out of range")
    }

    subscript(position: Int) -> Element {
        // The position check covers the chunk index: the list of chunks is read without a second check.
        @inline(__always) _read {
            checkPosition(position)
            let chunk = chunks.withUnsafeBufferPointer { $0[position >> Self.chunkShift].elements }
            yield chunk[position & Self.positionMask]
        }
        @inline(__always) unsafeMutableAddress { mutableAddress(of: position) }
    }

    /// The element's address, writable: its chunk is copied first when shared, so a run of writes to one element
    /// pays one uniqueness check instead of two per write (the subscript checks the list of chunks and the
    /// chunk). Writes through it stay valid while this array is not copied and the element's chunk not replaced
    /// (`removeAll`, assigning the array); appends and writes to other elements keep it valid. Never write
    /// through it once a copy of the array exists: the copy would see the write.
    @inline(__always) mutating func mutableAddress(of position: Int) -> UnsafeMutablePointer<Element> {
        checkPosition(position)
        return chunks.withUnsafeMutableBufferPointer { chunks in
            let chunk = position >> Self.chunkShift
            ChunkStorage.makeUnique(&chunks[chunk], capacity: Self.elementsPerChunk)
            return chunks[chunk].elements + (position & Self.positionMask)
        }
    }

    /// Runs `body` with a writer for scattered elements that checks the list of chunks once; each chunk written
    /// is still copied first when shared. The writer is valid only inside `body`.
    mutating func withWriter<Result>(_ body: (Writer) throws -> Result) rethrows -> Result {
        let count = count
        return try chunks.withUnsafeMutableBufferPointer { try body(Writer(chunks: $0, count: count)) }
    }

    struct Writer {
        fileprivate let chunks: UnsafeMutableBufferPointer<ChunkStorage<Element>>
        fileprivate let count: Int

        subscript(position: Int) -> Element {
            @inline(__always) get {
                precondition(UInt(bitPattern: position) < UInt(bitPattern: count), "ChunkedArray position out of range")
                return chunks[position >> ChunkedArray.chunkShift].elements[position & ChunkedArray.positionMask]
            }
            @inline(__always) nonmutating set {
                precondition(UInt(bitPattern: position) < UInt(bitPattern: count), "ChunkedArray position out of range")
                let chunk = position >> ChunkedArray.chunkShift
                ChunkStorage.makeUnique(&chunks[chunk], capacity: ChunkedArray.elementsPerChunk)
                chunks[chunk].elements[position & ChunkedArray.positionMask] = newValue
            }
        }
    }

    mutating func append(_ element: Element) {
        let offset = count & Self.positionMask
        if offset == 0 {
            chunks.append(.make(capacity: Self.elementsPerChunk))
        } else {
            ChunkStorage.makeUnique(&chunks[chunks.count - 1], capacity: Self.elementsPerChunk)
        }
        let chunk = chunks[chunks.count - 1]
        (chunk.elements + offset).initialize(to: element)
        chunk.header += 1
        count += 1
    }

    mutating func removeAll() {
        chunks.removeAll()
        count = 0
    }

    mutating func reserveCapacity(_ capacity: Int) {
        chunks.reserveCapacity((capacity + Self.positionMask) >> Self.chunkShift)
    }
}

extension ChunkedArray: RandomAccessCollection, MutableCollection {
    var startIndex: Int { 0 }
    var endIndex: Int { count }
}

// Chunks are written only through a unique reference (see `ChunkStorage`).
extension ChunkedArray: @unchecked Sendable where Element: Sendable {}

extension ChunkedArray: Equatable where Element: Equatable {
    static func == (lhs: ChunkedArray, rhs: ChunkedArray) -> Bool { lhs.elementsEqual(rhs) }
}
