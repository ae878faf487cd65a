// A bounded queue from the tick to a writer thread: storage allocated at start-up, a short lock
// around a copy, never a wait on the pushing side; a full queue drops and counts.

import Foundation

public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    let lock = NSCondition()
    var slots: [Element?]
    var head = 0, count = 0
    public private(set) var dropped = 0
    public private(set) var pushed = 0

    public init(capacity: Int) { slots = Array(repeating: nil, count: capacity) }

    public func push(_ e: Element) {
        lock.lock()
        if count == slots.count {
            dropped += 1
        } else {
            slots[(head + count) % slots.count] = e
            count += 1
            pushed += 1
            lock.signal()
        }
        lock.unlock()
    }

    /// Waits up to `timeoutS` for an element.
    public func pop(timeoutS: Double) -> Element? {
        lock.lock(); defer { lock.unlock() }
        if count == 0 { _ = lock.wait(until: Date(timeIntervalSinceNow: timeoutS)) }
        guard count > 0 else { return nil }
        let e = slots[head]
        slots[head] = nil
        head = (head + 1) % slots.count
        count -= 1
        return e
    }

    /// Takes an element if there is one; never waits for one.
    public func tryPop() -> Element? {
        lock.lock(); defer { lock.unlock() }
        guard count > 0 else { return nil }
        let e = slots[head]
        slots[head] = nil
        head = (head + 1) % slots.count
        count -= 1
        return e
    }

    public var isEmpty: Bool { lock.lock(); defer { lock.unlock() }; return count == 0 }
}
