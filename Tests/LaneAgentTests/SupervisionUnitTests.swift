// Proves the supervision logic on simulated time: the watchdog is told the agent is alive every
// half interval only while the ticks keep time (a late or missed tick withholds that half
// interval's message; sustained lateness withholds every one, so systemd restarts the agent);
// the heartbeat output toggles on every tick; the safe state is the fault lamp alone; the notify
// socket is found in the environment (paths and abstract names) and a message that cannot go is
// counted, never waited for.

import Foundation
import LaneAgent
import LaneCore
import LaneHAL
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SupervisionUnitTests {
    @Test("on-time ticks: WATCHDOG=1 at the first tick and every half interval; a late tick withholds one; a stalled lane withholds all")
    func petting() {
        var w = WatchdogPetting(watchdogUs: 2_000_000, periodUs: 100_000)
        var petsAt: [Int64] = []
        var t: Int64 = 0
        for _ in 0..<100 {  // 10 s on time
            t += 100_000
            if w.tick(nowUs: t, latenessUs: 300, missedTicks: false) { petsAt.append(t) }
        }
        #expect(petsAt.count == 10 && petsAt.first == 100_000, "\(petsAt)")
        #expect(zip(petsAt.dropFirst(), petsAt).allSatisfy { $0 - $1 == 1_000_000 })
        // One tick 150 ms late: that half interval's message is withheld, the next one goes.
        var late: [Bool] = []
        for i in 0..<20 {
            t += 100_000
            late.append(w.tick(nowUs: t, latenessUs: i == 3 ? 150_000 : 300, missedTicks: false))
        }
        #expect(late.filter { $0 }.count == 1 && w.withheld == 1, "\(late)")
        // Every tick late for 5 s: nothing; systemd's 2 s watchdog fires.
        var any = false
        for _ in 0..<50 { t += 100_000; any = any || w.tick(nowUs: t, latenessUs: 120_000, missedTicks: true) }
        #expect(!any && w.withheld >= 5)
        // Back on time: alive again within one half interval.
        var back = false
        for _ in 0..<11 { t += 100_000; back = back || w.tick(nowUs: t, latenessUs: 200, missedTicks: false) }
        #expect(back)
    }

    @Test("the heartbeat output toggles on every tick; the safe state is the fault lamp alone")
    func heartbeatAndSafeState() {
        var lane = VirtualLane()
        var levels: [Bool] = []
        for _ in 0..<20 { lane.tick(); levels.append(lane.lastLevels[LaneOutput.heartbeat.rawValue]) }
        #expect(zip(levels.dropFirst(), levels).allSatisfy { $0 != $1 }, "\(levels)")
        let safe = LaneRunner.safeLevels
        for o in LaneOutput.allCases { #expect(safe[o.rawValue] == (o == .faultLight), "\(o.name)") }
    }

    @Test("the notify socket from the environment: a path or an abstract name; WATCHDOG_PID of another process means no watchdog; without NOTIFY_SOCKET nothing is sent")
    func notifier() throws {
        let dir = NSTemporaryDirectory() + "notify-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in [dir + "/n.sock", "@lane-test-\(UUID().uuidString.prefix(8))"] {
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(fd) }
            var (addr, length) = try Sys.unixDatagramAddress(name)
            let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            #expect(r == 0, "bind \(name): \(String(cString: strerror(errno)))")
            let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": name, "WATCHDOG_USEC": "2000000"])
            #expect(n.isActive && n.watchdogUs == 2_000_000)
            #expect(n.send("READY=1") && n.petWatchdog())
            var buf = [UInt8](repeating: 0, count: 64)
            var got: [String] = []
            for _ in 0..<2 {
                let k = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
                if k > 0 { got.append(String(decoding: buf[0..<k], as: UTF8.self)) }
            }
            #expect(got == ["READY=1", "WATCHDOG=1"], "\(name): \(got)")
        }
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": dir + "/n.sock", "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"]).watchdogUs == nil)
        let none = SystemdNotifier(environment: [:])
        #expect(!none.isActive && !none.send("READY=1"))
        // A socket nobody listens on: counted as failed, the call returns at once.
        let gone = SystemdNotifier(environment: ["NOTIFY_SOCKET": dir + "/nobody.sock"])
        #expect(!gone.petWatchdog() && gone.failed == 1 && gone.problem?.contains("sendto") == true, "\(gone.problem ?? "")")
    }
}
