import Testing
@testable import StreamRecEngine

@Suite struct SlotTableTests {
    /// Random touches and evictions against a plain dictionary model: every live id keeps its slot and is found.
    @Test func agreesWithADictionaryThroughEvictions() {
        var table = SlotTable()
        var model: [String: Int32] = [:]
        var random = SplitMix64(seed: 7)
        let capacity = 300
        for _ in 0..<20_000 {
            // Mostly short ids (inline strings), some longer than 15 bytes (heap strings, several hash words).
            let number = random.next(below: 1_000)
            let name = number % 3 == 0 ? "a-rather-long-identifier-\(number)" : "u\(number)"
            let (slot, isNew, evicted) = table.touch(name, capacity: capacity)
            if let evicted { model = model.filter { $0.value != evicted } }
            #expect(isNew == (model[name] == nil))
            if let known = model[name] { #expect(slot == known) }
            model[name] = slot
            #expect(table.count == model.count && table.count <= capacity)
        }
        for (name, slot) in model { #expect(table.slot(of: name) == slot) }
        #expect(table.slot(of: "u1000") == nil)
        #expect(!table.isHardened)
    }

    /// Ids crafted to share one home bucket under the public fast hash make the table switch to the keyed hash;
    /// every id stays findable and the slots do not change.
    @Test func aFloodOfCollidingIdsSwitchesToTheKeyedHash() {
        var colliding: [String] = []
        var candidate = 0
        while colliding.count < SlotTable.maximumProbes + 50 {
            let name = "x\(candidate)"
            candidate += 1
            var bytes = name
            let hash = bytes.withUTF8 { SlotTable.fastHash(UnsafeRawBufferPointer($0)) }
            if hash & 1023 == 0 { colliding.append(name) }
        }
        var table = SlotTable()
        for (index, name) in colliding.enumerated() {
            #expect(table.touch(name, capacity: 10_000).slot == Int32(index))
        }
        #expect(table.isHardened)
        for (index, name) in colliding.enumerated() { #expect(table.slot(of: name) == Int32(index)) }
        table.remove(5)
        #expect(table.slot(of: colliding[5]) == nil && table.slot(of: colliding[6]) == 6)
        #expect(table.touch("y", capacity: 10_000) == (5, true, nil))
    }

    @Test func restoresFromSnapshotPartsAndRejectsDuplicates() throws {
        var table = SlotTable()
        for number in 0..<100 { _ = table.touch("id\(number)", capacity: 60) }
        let restored = try #require(
            SlotTable.restore(names: table.names, freeSlots: table.freeSlots, recencyOrder: table.slotsInRecencyOrder))
        for number in 40..<100 { #expect(restored.slot(of: "id\(number)") == table.slot(of: "id\(number)")) }
        #expect(restored.slot(of: "id0") == nil)
        #expect(restored.slotsInRecencyOrder == table.slotsInRecencyOrder)
        #expect(SlotTable.restore(names: ["a", "b", "a"], freeSlots: [], recencyOrder: [0, 1, 2]) == nil)
    }
}
