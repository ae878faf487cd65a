// Threads for the I/O sides (poll, GPIO, log writer). Their bodies own non-Sendable C handles
// (libmodbus contexts) that are confined to that one thread: the box states that hand-over.

import Foundation

public struct Unchecked<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

/// Starts a detached thread running `body`; everything it captures becomes that thread's.
/// Stacks are 1 MiB, not 8: with locked memory every byte of every stack is resident.
public func startThread(name: String, stackBytes: Int = 1 << 20, _ body: @escaping () -> Void) {
    let box = Unchecked(body)
    let t = Thread { box.value() }
    t.name = name
    t.stackSize = stackBytes
    t.start()
}
