// Proves the console's pseudo-terminal link is made atomically: agents that start at the same
// moment with the same profile (as the integration tests do, and a restart racing the old link's
// removal) each get their link made, never EEXIST ("console: cannot link ...: File exists" once
// made an agent exit with status 2), and the link names a live pseudo-terminal.

import Foundation
import LaneHAL
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct TerminalLinkTests {
    @Test("8 threads linking the same console path at once, 25 rounds: no EEXIST, and the link ends on one of their terminals")
    func concurrentLinks() throws {
        let dir = NSTemporaryDirectory() + "pty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let link = dir + "/console"
        for _ in 0..<25 {
            let lock = NSLock()
            nonisolated(unsafe) var failures: [String] = []
            nonisolated(unsafe) var opened: [(Int32, Int32, String)] = []
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                do {
                    let r = try Terminal.openPseudoTerminal(link: link)
                    lock.lock(); opened.append(r); lock.unlock()
                } catch {
                    lock.lock(); failures.append("\(error)"); lock.unlock()
                }
            }
            #expect(failures.isEmpty, "\(failures)")
            let target = try FileManager.default.destinationOfSymbolicLink(atPath: link)
            #expect(opened.contains { $0.2 == target }, "the link names one of the terminals: \(target)")
            for (m, k, _) in opened { close(m); close(k) }
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(leftovers == ["console"], "no temporary links left: \(leftovers)")
    }
}
