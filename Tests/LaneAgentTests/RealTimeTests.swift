// Proves the realtime section of a board profile is read and checked, and that asking for
// SCHED_FIFO and locked memory either succeeds or says why not (never fails silently).

import Glibc
import LaneAgent
import LaneHAL
import Testing

@Suite struct RealTimeTests {
    @Test("realtime.priority 1-99 and lockMemory are read; out of range is refused")
    func profile() throws {
        let pi = try BoardProfile.load(path: packageRoot + "/Boards/rpi4-rs485.yaml")
        #expect(pi.realtimePriority == 50 && pi.lockMemory)
        let bad = profileError(simProfile.replacingOccurrences(of: "  priority: 10 ", with: "  priority: 120 "))
        #expect(bad?.contains("realtime.priority: 120 is out of range (1 to 99)") == true, "\(bad ?? "accepted")")
    }

    @Test("SCHED_FIFO on a thread and mlockall report success or the reason, with what to change")
    func apply() {
        let fifo = RealTime.fifo(priority: 5)
        #expect(fifo.hasPrefix("tick thread on SCHED_FIFO priority 5") || fifo.contains("NOT on SCHED_FIFO"))
        if fifo.contains("NOT") { #expect(fifo.contains("CAP_SYS_NICE") || fifo.contains(":")) }
        let memory = RealTime.lockMemory()
        #expect(memory.hasPrefix("memory locked") || memory.hasPrefix("memory NOT locked"))
        munlockall()
    }
}
