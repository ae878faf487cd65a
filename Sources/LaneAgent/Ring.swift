// The one ring buffer of the agent: a fixed capacity set at creation (storage allocated then,
// never again), oldest-first order, and two ways to be full: `push` refuses (a queue: the caller
// counts the drop) or `overwrite` drops the oldest (a history: recent alarms, log lines, the last
// second of counts). Every advance is checked. Not thread-safe: a queue wraps it in a lock.

public struct Ring<Element> {
    var slots: [Element?]
    var head = 0
    public private(set) var count = 0
    /// Elements ever added (pushed or overwritten in).
    public private(set) var total = 0

    public init(capacity: Int) {
        precondition(capacity >= 1, "a ring holds at least one element")
        slots = Array(repeating: nil, count: capacity)
    }

    public var capacity: Int { slots.count }
    public var isEmpty: Bool { count == 0 }
    public var isFull: Bool { count == slots.count }

    /// Adds `e` at the end; false (nothing changed) when full.
    public mutating func push(_ e: Element) -> Bool {
        guard count < slots.count else { return false }
        slots[(head + count) % slots.count] = e
        count += 1
        total += 1
        precondition(count <= slots.count)
        return true
    }

    /// Adds `e` at the end, dropping the oldest when full.
    public mutating func overwrite(_ e: Element) {
        if count == slots.count {
            slots[head] = e
            head = (head + 1) % slots.count
            total += 1
        } else {
            _ = push(e)
        }
    }

    /// Removes and returns the oldest element.
    public mutating func pop() -> Element? {
        guard count > 0 else { return nil }
        let e = slots[head]
        slots[head] = nil
        head = (head + 1) % slots.count
        count -= 1
        precondition(e != nil, "a ring slot inside the count was empty")
        return e
    }

    /// The i-th oldest element (0 ..< count).
    public subscript(i: Int) -> Element {
        get {
            precondition(i >= 0 && i < count, "ring index \(i) outside 0..<\(count)")
            return slots[(head + i) % slots.count]!
        }
        set {
            precondition(i >= 0 && i < count, "ring index \(i) outside 0..<\(count)")
            slots[(head + i) % slots.count] = newValue
        }
    }

    /// The newest element.
    public var last: Element? { count == 0 ? nil : self[count - 1] }
}

extension Ring: Sendable where Element: Sendable {}
