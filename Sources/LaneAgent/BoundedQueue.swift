// A bounded queue from the tick to a writer thread: storage allocated at start-up, a short lock
// around a copy, never a wait on the pushing side; a full queue drops and counts.

import Foundation

public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    let lock = NSCondition()
    var ring: Ring<Element>
    public private(set) var dropped = 0
    public var pushed: Int { lock.lock(); defer { lock.unlock() }; return ring.total }

    public init(capacity: Int) { ring = Ring(capacity: capacity) }

    /// Adds `e`; returns how many elements were pushed so far including it, or nil if the queue
    /// was full and `e` was dropped (counted).
    @discardableResult
    public func push(_ e: Element) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard ring.push(e) else { dropped += 1; return nil }
        lock.signal()
        return ring.total
    }

    /// Waits up to `timeoutS` for an element.
    public func pop(timeoutS: Double) -> Element? {
        lock.lock(); defer { lock.unlock() }
        if ring.isEmpty { _ = lock.wait(until: Date(timeIntervalSinceNow: timeoutS)) }
        return ring.pop()
    }

    /// Takes an element if there is one; never waits for one.
    public func tryPop() -> Element? {
        lock.lock(); defer { lock.unlock() }
        return ring.pop()
    }

    public var isEmpty: Bool { lock.lock(); defer { lock.unlock() }; return ring.isEmpty }
}
