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

    /// Adds `e`; returns how many elements were pushed so far including it, or nil if the queue
    /// was full and `e` was dropped (counted).
    @discardableResult
    public func push(_ e: Element) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard count < slots.count else { dropped += 1; return nil }
        slots[(head + count) % slots.count] = e
        count += 1
        pushed += 1
        lock.signal()
        return pushed
    }

    /// Waits up to `timeoutS` for an element.
    public func pop(timeoutS: Double) -> Element? {
        lock.lock(); defer { lock.unlock() }
        if count == 0 { _ = lock.wait(until: Date(timeIntervalSinceNow: timeoutS)) }
        return takeLocked()
    }

    /// Takes an element if there is one; never waits for one.
    public func tryPop() -> Element? {
        lock.lock(); defer { lock.unlock() }
        return takeLocked()
    }

    /// The oldest element, removed (the caller holds the lock).
    func takeLocked() -> Element? {
        guard count > 0 else { return nil }
        let e = slots[head]
        slots[head] = nil
        head = (head + 1) % slots.count
        count -= 1
        return e
    }

    public var isEmpty: Bool { lock.lock(); defer { lock.unlock() }; return count == 0 }
}
