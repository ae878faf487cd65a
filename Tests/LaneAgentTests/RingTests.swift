// Proves the agent's one ring buffer: a queue refuses when full and keeps order, a history drops
// the oldest, indices run oldest first, and the totals count everything that went in.

import LaneAgent
import Testing

@Suite struct RingTests {
    @Test("push refuses when full; pop gives the oldest first; wrap-around keeps order")
    func queue() {
        var r = Ring<Int>(capacity: 3)
        let pushed = [r.push(1), r.push(2), r.push(3), r.push(4)]
        #expect(pushed == [true, true, true, false])
        let first = r.pop()
        #expect(first == 1)
        let again = r.push(5)
        #expect(again)
        let rest = [r.pop(), r.pop(), r.pop(), r.pop()]
        #expect(rest == [2, 3, 5, nil])
        #expect(r.total == 4 && r.isEmpty)
    }

    @Test("overwrite drops the oldest; subscript and last see oldest to newest")
    func history() {
        var r = Ring<String>(capacity: 2)
        for s in ["a", "b", "c"] { r.overwrite(s) }
        #expect(r.count == 2 && r[0] == "b" && r[1] == "c" && r.last == "c" && r.total == 3)
        r[0] = "B"
        let oldest = r.pop()
        #expect(oldest == "B")
    }
}
