// Proves that console Modbus requests carry ids: a request whose caller gave up before the poll
// thread answered it leaves no stale reply behind, so the next caller gets its own answer (a
// stale reply used to stay forever: every later request failed with "bus busy", or took the
// previous caller's registers). The bus is a real TCP connection to a peer that never answers.

import Foundation
import LaneAgent
import LaneHAL
import Testing

@Suite struct BusRequestTests {
    @Test("a request given up on is dropped when its late reply comes; the next request gets its own reply")
    func abandonedRequest() throws {
        let boards = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/Boards"
        let profile = try BoardProfile.load(path: boards + "/sim.yaml")
        // A peer that accepts and never answers: every request times out after 30 ms.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(listener, 4)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        defer { close(listener) }
        // The peer never answers: a request served takes the full 1.5 s response timeout, far
        // longer than the first caller's 0.2 s, so that caller gives up while it is being served.
        let client = try ModbusClient(.tcp(host: "127.0.0.1", port: Int(UInt16(bigEndian: addr.sin_port))), timeouts: ModbusTimeouts(responseUs: 1_500_000, byteUs: 10_000))
        try client.connect()
        let poller = PanelPoller(profile: profile) { _ in }
        // The test plays the poll thread: it serves each request once its caller has queued it
        // (a serving loop on its own thread could miss a request whose caller gave up before the
        // thread was scheduled, which happened under a loaded CI run).
        func waitQueued() -> Bool {
            let end = Date(timeIntervalSinceNow: 10)
            while Date() < end { if poller.busRequestWaiting { return true }; usleep(1_000) }
            return false
        }
        nonisolated(unsafe) var first: BusReply? = nil
        let firstDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread { first = poller.perform(.readInput(unit: 1, address: 0, count: 12), timeoutS: 0.2); firstDone.signal() }
        try #require(waitQueued(), "the first caller queued its request")
        poller.serveBusRequest(client)  // 1.5 s: its caller left after 0.2 s
        firstDone.wait()
        guard case let .failed(why1) = first else { Issue.record("the first request should have been given up on"); return }
        #expect(why1.contains("no answer from the poll thread"), "\(why1)")
        #expect(poller.busRepliesDropped == 1, "the reply nobody waits for is dropped")
        nonisolated(unsafe) var second: BusReply? = nil
        let secondDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread { second = poller.perform(.readInput(unit: 2, address: 0, count: 12), timeoutS: 10); secondDone.signal() }
        try #require(waitQueued(), "the second caller queued its request")
        poller.serveBusRequest(client)
        secondDone.wait()
        guard case let .failed(why2) = second else { Issue.record("the peer never answers"); return }
        #expect(why2.contains("unit 2"), "the second caller got its own reply, not the first's or 'bus busy': \(why2)")
        #expect(poller.busRepliesDropped == 1)
        #expect(poller.busRequestsServed == 2)
    }
}
