// Real-time scheduling for the tick thread and locked memory, when the board profile asks and
// the system permits; otherwise a message that says why and what to change, and screening goes on.

#if canImport(Glibc)
import Glibc
#endif

public enum RealTime {
    /// Locks the process's memory (no page faults on the tick path once it has run). Returns a
    /// message. MCL_ONFAULT (Linux 4.4+): pages are locked as they are first touched, not all at
    /// once, so the parts of the binary the agent never uses (most of Foundation's ICU data) stay
    /// out of memory; the tick's pages are touched in its first seconds and then stay resident.
    public static func lockMemory() -> String {
        let onFault: Int32 = 4  // MCL_ONFAULT
        if mlockall(Int32(MCL_CURRENT | MCL_FUTURE) | onFault) == 0 { return "memory locked as it is touched (mlockall, MCL_ONFAULT)" }
        if errno == EINVAL, mlockall(Int32(MCL_CURRENT | MCL_FUTURE)) == 0 { return "memory locked (mlockall; this kernel has no MCL_ONFAULT)" }
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
