// Real-time scheduling for the tick thread and locked memory, when the board profile asks and
// the system permits; otherwise a message that says why and what to change, and screening goes on.

#if canImport(Glibc)
import Glibc
#endif

public enum RealTime {
    /// Locks the process's memory (no page faults on the tick path). Returns a message.
    public static func lockMemory() -> String {
        if mlockall(Int32(MCL_CURRENT | MCL_FUTURE)) == 0 { return "memory locked (mlockall)" }
        let e = errno
        return "memory NOT locked: mlockall: \(errnoText(e))"
            + (e == EPERM || e == ENOMEM ? " (needs CAP_IPC_LOCK or a larger RLIMIT_MEMLOCK, e.g. LimitMEMLOCK=infinity in the systemd unit)" : "")
    }

    /// Puts the calling thread on SCHED_FIFO at `priority` (1-99). Returns a message.
    public static func fifo(priority: Int32) -> String {
        var param = sched_param()
        param.sched_priority = priority
        let rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param)
        if rc == 0 { return "tick thread on SCHED_FIFO priority \(priority)" }
        return "tick thread NOT on SCHED_FIFO \(priority): \(errnoText(rc))"
            + (rc == EPERM ? " (needs root, CAP_SYS_NICE or RLIMIT_RTPRIO >= \(priority), e.g. LimitRTPRIO=\(priority) in the systemd unit); running with normal scheduling" : "")
    }
}
